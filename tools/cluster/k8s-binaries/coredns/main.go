// CoreDNS with the plugins a kubeadm cluster's Corefile names, and no others.
//
// Upstream's main imports every plugin (core/plugin), which brings the AWS, Azure, Google Cloud
// and Datadog SDKs: the cold build took five minutes of the node image's build, most of it
// compiling clients the cluster never calls. This main registers the plugins kubeadm's
// Corefile (and a `log` for debugging) uses, in upstream's order, the way CoreDNS documents
// compile-time plugin selection.
package main

import (
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// The directives this binary has, by their Corefile names (metrics registers "prometheus").
var registered = []string{
	"cache", "errors", "forward", "health", "kubernetes", "loadbalance", "log", "loop",
	"prometheus", "ready", "reload",
}

func init() {
	// The order in which plugins see a query is upstream's order, whatever the Corefile's.
	dnsserver.Directives = slices.DeleteFunc(slices.Clone(dnsserver.Directives), func(name string) bool {
		return !slices.Contains(registered, name)
	})
}

func main() {
	coremain.Run()
}

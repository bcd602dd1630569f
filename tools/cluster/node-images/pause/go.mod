// The pause program every pod sandbox runs: it holds the pod's namespaces, reaps the zombies
// that land on it as PID 1, and exits on SIGTERM or SIGINT. Built locally, never pulled.
module breakwater.dev/tools/cluster/node-images/pause

go 1.26.0

import { join, relative } from 'node:path';
import type { ClusterLayout } from '../layout.ts';

/**
 * Which node the local cluster runs: the upstream kubelet with containerd, runc, CNI,
 * kube-proxy and CoreDNS (`kubelet`), or none (`none`: the control plane alone, for machines
 * that cannot run a node and tests that need only the API server). BREAKWATER_NODE chooses;
 * the default is the kubelet where it can run (root on Linux), else none.
 */
export type NodeKind = 'kubelet' | 'none';

export function nodeKindFromEnv(
  env: NodeJS.ProcessEnv,
  canRunNode: boolean = realNodeSupported(),
): NodeKind {
  const raw = env['BREAKWATER_NODE'];
  if (raw === undefined || raw === '') return canRunNode ? 'kubelet' : 'none';
  if (raw === 'kubelet' || raw === 'none') return raw;
  if (raw === 'local') {
    throw new Error(
      'BREAKWATER_NODE=local: the home-made local node is retired; the cluster runs the ' +
        'upstream kubelet (BREAKWATER_NODE=kubelet, root on Linux) or no node (none)',
    );
  }
  throw new Error(`BREAKWATER_NODE=${raw} names no node (kubelet or none)`);
}

/** A kubelet, containerd and iptables need Linux and root. */
export function realNodeSupported(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0;
}

/** The real node's processes, in start order. */
export const realNodeComponents = ['containerd', 'kubelet', 'kube-proxy'] as const;
export type RealNodeComponent = (typeof realNodeComponents)[number];

export const realNodeName = 'breakwater-node';
/** The pods' addresses: one bridge, one range (the CNI host-local allocator's). */
export const podCidr = '10.244.0.0/24';
export const podBridge = 'bwcni0';
export const cniNetworkName = 'breakwater-pods';
/** The `kube-dns` Service's address, inside the cluster's Service range (10.0.0.0/24). */
export const clusterDnsIp = '10.0.0.10';
export const clusterDomain = 'cluster.local';
/** Where Debian's containernetworking-plugins puts bridge, host-local, portmap and loopback. */
export const cniBinDir = '/usr/lib/cni';

/** Fixed ports on the host; one real node per host, as its iptables rules are the host's too. */
export const realNodePorts = {
  kubelet: 10250,
  kubeletHealthz: 10248,
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
} as const;

/** Everything the real node keeps, under `.breakwater/realnode/` next to the cluster's state. */
export interface RealNodeLayout {
  readonly dir: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdConfig: string;
  readonly containerdSocket: string;
  readonly kubeletRoot: string;
  readonly kubeletConfig: string;
  readonly kubeletKubeconfig: string;
  readonly kubeProxyConfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly cniConfDir: string;
  /** host-local's allocations, instead of /var/lib/cni. */
  readonly cniDataDir: string;
  readonly pkiDir: string;
  /** The host as it was before the first start; `down` restores it and then removes the file. */
  readonly hostSnapshot: string;
}

export function realNodeLayout(cluster: ClusterLayout): RealNodeLayout {
  const dir = join(cluster.stateDir, '..', 'realnode');
  const containerd = join(dir, 'containerd');
  return {
    dir,
    containerdRoot: join(containerd, 'root'),
    containerdState: join(containerd, 'state'),
    containerdConfig: join(containerd, 'config.toml'),
    containerdSocket: join(containerd, 'containerd.sock'),
    kubeletRoot: join(dir, 'kubelet'),
    kubeletConfig: join(dir, 'kubelet-config.yaml'),
    kubeletKubeconfig: join(dir, 'kubelet.kubeconfig'),
    kubeProxyConfig: join(dir, 'kube-proxy-config.yaml'),
    kubeProxyKubeconfig: join(dir, 'kube-proxy.kubeconfig'),
    cniConfDir: join(dir, 'cni', 'net.d'),
    cniDataDir: join(dir, 'cni', 'ipam'),
    pkiDir: join(dir, 'pki'),
    hostSnapshot: join(dir, 'host-before.json'),
  };
}

/** Host paths the kubelet, containerd and CNI use whatever they are told. */
export const fixedHostPaths = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/cni',
  '/run/containerd',
  '/var/lib/containerd',
  '/opt/containerd',
  '/run/netns',
  '/etc/cni',
  '/opt/cni',
] as const;

/** A path as progress lines show it: relative to the checkout. */
export function relativeToRepo(cluster: ClusterLayout, path: string): string {
  return relative(cluster.repoRoot, path);
}

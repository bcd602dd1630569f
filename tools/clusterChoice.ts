/**
 * The cluster the demo and the benches run in: the local cluster (tools/cluster: a control plane
 * and a real node on this machine) or, with BREAKWATER_CLUSTER=kind, a one-node kind cluster
 * (tools/kindNode/kind-cluster.sh; issue 37). Either way they get a kubeconfig, a kubectl of the
 * cluster's version, the address at which pods reach this machine (where a simulator listens),
 * and the variables the suites' helpers read; and they stop only a cluster they started.
 */
import { findKubectl } from './cluster/binaries.ts';
import { clusterDown, clusterStatus, clusterUp } from './cluster/controlPlane.ts';
import { clusterLayout } from './cluster/layout.ts';
import type { Progress } from './cluster/progress.ts';
import { projectImageRef } from './cluster/realNode/projectImage.ts';
import { kindClusterExists, kindDown, kindUp } from './kindNode/kindCluster.ts';

/** Why no cluster could be chosen or brought up, in words its reader can act on. */
export class ClusterChoiceError extends Error {
  override readonly name = 'ClusterChoiceError';
}

export type ClusterKind = 'local' | 'kind';

/** What the demo and the benches need of a running cluster. */
export interface ClusterAccess {
  readonly kubeconfig: string;
  readonly kubectl: string;
  /** This machine's address as pods reach it. */
  readonly podHost: string;
  /**
   * What test/support reads to reach this cluster (BREAKWATER_KUBECONFIG, BREAKWATER_KUBECTL,
   * BREAKWATER_POD_HOST, BREAKWATER_CHART_IMAGE, and where images go: the real node's
   * containerd or the kind node), as the integration suites' global setup exports it.
   */
  readonly env: Readonly<Record<string, string>>;
}

export interface ChosenCluster {
  readonly kind: ClusterKind;
  /** How progress and messages name it. */
  readonly title: string;
  /** What it is, for progress while it comes up. */
  readonly description: string;
  /** Whether it runs already (then it is not the caller's to stop). */
  running(): Promise<boolean>;
  /** Brings it up (or finds it up) with the project's image on its node. */
  up(progress: Progress): Promise<ClusterAccess>;
  down(progress: Progress): Promise<void>;
}

/** BREAKWATER_CLUSTER: unset or `local` for the local cluster, `kind` for kind. */
export function clusterKindFromEnv(env: NodeJS.ProcessEnv = process.env): ClusterKind {
  const value = env['BREAKWATER_CLUSTER'];
  if (value === undefined || value === '' || value === 'local') return 'local';
  if (value === 'kind') return 'kind';
  throw new ClusterChoiceError(
    `BREAKWATER_CLUSTER=${value} names no cluster Breakwater runs in: ` +
      'leave it unset (the local cluster) or set it to kind',
  );
}

export function chosenCluster(
  kind: ClusterKind,
  env: NodeJS.ProcessEnv = process.env,
): ChosenCluster {
  return kind === 'kind' ? kindCluster(env) : localCluster();
}

function localCluster(): ChosenCluster {
  return {
    kind: 'local',
    title: 'the local cluster',
    description:
      'local cluster (etcd, kube-apiserver, controller-manager, scheduler; the kubelet, ' +
      'containerd, kube-proxy and CoreDNS on one node)',
    running: async () => (await clusterStatus()).components.some((c) => c.running),
    up: async (progress) => {
      const cluster = await clusterUp({ progress });
      if (cluster.node === undefined) {
        throw new ClusterChoiceError(
          'the local cluster has no node to run the agent on: the kubelet needs root on Linux ' +
            '(BREAKWATER_NODE=none was set, or this machine is not one). Run `make demo` as root ' +
            'on Linux, set BREAKWATER_CLUSTER=kind where Docker or podman runs, or install the ' +
            'chart into a cluster you have (docs/installation.md).',
        );
      }
      const { node } = cluster;
      return {
        kubeconfig: cluster.kubeconfig,
        kubectl: cluster.kubectl,
        podHost: node.hostAddress,
        env: {
          BREAKWATER_KUBECONFIG: cluster.kubeconfig,
          BREAKWATER_KUBECTL: cluster.kubectl,
          BREAKWATER_LOCAL_CLUSTER: '1',
          BREAKWATER_POD_HOST: node.hostAddress,
          BREAKWATER_CLUSTER_ROUTED: '1',
          BREAKWATER_CHART_IMAGE: node.image,
          BREAKWATER_CONTAINERD_ADDRESS: node.containerdSocket,
        },
      };
    },
    down: async (progress) => {
      await clusterDown({ progress });
    },
  };
}

function kindCluster(env: NodeJS.ProcessEnv): ChosenCluster {
  const name = env['BREAKWATER_KIND_CLUSTER'] ?? 'breakwater';
  return {
    kind: 'kind',
    title: `the kind cluster ${name}`,
    description:
      `kind cluster ${name} (one node: kubeadm's control plane, containerd, CoreDNS; ` +
      "Breakwater's image built and loaded into it)",
    running: () => kindClusterExists(name),
    up: async (progress) => {
      const layout = clusterLayout();
      const image = await projectImageRef(layout, env);
      const exported = await kindUp(name, image, await kindClusterExists(name));
      const kubeconfig = exported['BREAKWATER_KUBECONFIG'];
      const podHost = exported['BREAKWATER_POD_HOST'];
      if (kubeconfig === undefined || podHost === undefined) {
        throw new ClusterChoiceError(
          `tools/kindNode/kind-cluster.sh env printed no kubeconfig or pod host for ${name}`,
        );
      }
      const kubectl = await findKubectl(layout, env, progress);
      return {
        kubeconfig,
        kubectl,
        podHost,
        env: { ...exported, BREAKWATER_KUBECTL: kubectl, BREAKWATER_CHART_IMAGE: image },
      };
    },
    down: async () => {
      await kindDown(name);
    },
  };
}

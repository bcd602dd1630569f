/**
 * The cluster the demo runs in: the local cluster (tools/cluster: a control plane and a real node
 * on this machine) or, with BREAKWATER_CLUSTER=kind, a one-node kind cluster
 * (tools/kindNode/kind-cluster.sh; issue 37). Either way the demo gets a kubeconfig, a kubectl of
 * the cluster's version, and the address at which the agent's pods reach this machine (where the
 * simulator listens); and it stops only a cluster it started.
 */
import { clusterDown, clusterStatus, clusterUp } from '../tools/cluster/controlPlane.ts';
import { findKubectl } from '../tools/cluster/binaries.ts';
import { clusterLayout } from '../tools/cluster/layout.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { projectImageRef } from '../tools/cluster/realNode/projectImage.ts';
import { kindClusterExists, kindDown, kindUp } from '../tools/kindNode/kindCluster.ts';
import { EnvironmentError } from './environmentError.ts';

export type ClusterKind = 'local' | 'kind';

/** What the demo needs of a running cluster. */
export interface ClusterAccess {
  readonly kubeconfig: string;
  readonly kubectl: string;
  /** This machine's address as the agent's pods reach it. */
  readonly podHost: string;
}

export interface DemoCluster {
  readonly kind: ClusterKind;
  /** How progress and messages name it. */
  readonly title: string;
  /** What `make demo` prints while it comes up. */
  readonly description: string;
  /** Whether it runs already (then it is not the demo's to stop). */
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
  throw new EnvironmentError(
    `BREAKWATER_CLUSTER=${value} names no cluster the demo can run in: ` +
      'leave it unset (the local cluster) or set it to kind',
  );
}

export function demoCluster(kind: ClusterKind, env: NodeJS.ProcessEnv = process.env): DemoCluster {
  return kind === 'kind' ? kindDemoCluster(env) : localDemoCluster();
}

function localDemoCluster(): DemoCluster {
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
        throw new EnvironmentError(
          'the local cluster has no node to run the agent on: the kubelet needs root on Linux ' +
            '(BREAKWATER_NODE=none was set, or this machine is not one). Run `make demo` as root ' +
            'on Linux, set BREAKWATER_CLUSTER=kind where Docker or podman runs, or install the ' +
            'chart into a cluster you have (docs/installation.md).',
        );
      }
      return {
        kubeconfig: cluster.kubeconfig,
        kubectl: cluster.kubectl,
        podHost: cluster.node.hostAddress,
      };
    },
    down: async (progress) => {
      await clusterDown({ progress });
    },
  };
}

function kindDemoCluster(env: NodeJS.ProcessEnv): DemoCluster {
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
        throw new EnvironmentError(
          `tools/kindNode/kind-cluster.sh env printed no kubeconfig or pod host for ${name}`,
        );
      }
      const kubectl = await findKubectl(layout, env, progress);
      return { kubeconfig, kubectl, podHost };
    },
    down: async () => {
      await kindDown(name);
    },
  };
}

/**
 * The cluster the demo and the benches run in: a one-node kind cluster
 * (tools/kindNode/kind-cluster.sh; issue 37, decision 0045), named by BREAKWATER_KIND_CLUSTER
 * (default `breakwater`, the suites' own). They get a kubeconfig, a kubectl of the cluster's
 * version, the address at which pods reach this machine (where a simulator listens), and the
 * variables the suites' helpers read; and they take down only a cluster they brought up.
 */
import { findKubectl } from './cluster/binaries.ts';
import { clusterLayout } from './cluster/layout.ts';
import type { Progress } from './cluster/progress.ts';
import { projectImageRef } from './cluster/projectImage.ts';
import { kindClusterRunning, kindDown, kindUp } from './kindNode/kindCluster.ts';

/** Why the cluster could not be brought up or reached, in words its reader can act on. */
export class ClusterAccessError extends Error {
  override readonly name = 'ClusterAccessError';
}

/** What the demo and the benches need of a running cluster. */
export interface ClusterAccess {
  readonly kubeconfig: string;
  readonly kubectl: string;
  /** This machine's address as pods reach it. */
  readonly podHost: string;
  /**
   * What test/support reads to reach this cluster (BREAKWATER_KUBECONFIG, BREAKWATER_KUBECTL,
   * BREAKWATER_POD_HOST, BREAKWATER_CHART_IMAGE, BREAKWATER_KIND_CLUSTER), as the integration
   * suites' global setup exports it.
   */
  readonly env: Readonly<Record<string, string>>;
}

export interface KindClusterHandle {
  readonly name: string;
  /** How progress and messages name it. */
  readonly title: string;
  /** What it is, for progress while it comes up. */
  readonly description: string;
  /** Whether it runs already (then it is not the caller's to take down). */
  running(): Promise<boolean>;
  /** Brings it up (or finds it up) with the project's image on its node. */
  up(progress: Progress): Promise<ClusterAccess>;
  down(): Promise<void>;
}

export function kindClusterHandle(env: NodeJS.ProcessEnv = process.env): KindClusterHandle {
  const name = env['BREAKWATER_KIND_CLUSTER'] ?? 'breakwater';
  return {
    name,
    title: `the kind cluster ${name}`,
    description:
      `kind cluster ${name} (one node: kubeadm's control plane, containerd, CoreDNS; ` +
      "Breakwater's image built and loaded into it)",
    running: () => kindClusterRunning(name),
    up: async (progress) => {
      const layout = clusterLayout();
      const image = await projectImageRef(layout, env);
      const exported = await kindUp(name, image, await kindClusterRunning(name));
      const kubeconfig = exported['BREAKWATER_KUBECONFIG'];
      const podHost = exported['BREAKWATER_POD_HOST'];
      if (kubeconfig === undefined || podHost === undefined) {
        throw new ClusterAccessError(
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
    down: () => kindDown(name),
  };
}

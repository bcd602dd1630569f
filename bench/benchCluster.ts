/**
 * The cluster a bench runs on: BREAKWATER_KUBECONFIG's when set (left as it is), else kind's
 * (tools/clusterAccess.ts), brought up here and taken down after unless it was running or
 * BREAKWATER_KEEP_CLUSTER=1. Exports what the
 * suites' helpers in test/support read, as the integration project's global setup does.
 */
import { findKubectl } from '../tools/cluster/binaries.ts';
import { clusterLayout } from '../tools/cluster/layout.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { kindClusterHandle } from '../tools/clusterAccess.ts';

export interface BenchCluster {
  /** Which cluster ran the bench, for the results file. */
  readonly title: string;
  /** Takes the cluster down when this bench brought it up. */
  release(): Promise<void>;
}

export async function benchCluster(log: Progress): Promise<BenchCluster> {
  const external = process.env['BREAKWATER_KUBECONFIG'];
  if (external !== undefined && external !== '') {
    process.env['BREAKWATER_KUBECTL'] = await findKubectl(clusterLayout(), process.env, log);
    log(`using the cluster of BREAKWATER_KUBECONFIG=${external}`);
    return { title: `BREAKWATER_KUBECONFIG=${external}`, release: () => Promise.resolve() };
  }
  const cluster = kindClusterHandle();
  log(cluster.description);
  const started = !(await cluster.running());
  const access = await cluster.up(log);
  Object.assign(process.env, access.env);
  return {
    title: cluster.title.replace(/^the /, ''),
    release: async () => {
      if (started && process.env['BREAKWATER_KEEP_CLUSTER'] !== '1') await cluster.down();
    },
  };
}

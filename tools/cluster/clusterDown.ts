import { rm } from 'node:fs/promises';
import { ClusterError } from './clusterError.ts';
import { readClusterRecord, removeClusterRecord } from './clusterRecord.ts';
import {
  readRecords,
  resolveOptions,
  stopComponents,
  type ClusterOptions,
} from './componentLifecycle.ts';
import { componentNames, type ComponentName } from './layout.ts';
import { stopRealNode } from './realNode/realNodeStop.ts';
import { findLeftovers, killLeftovers } from './supervisor.ts';

export interface DownResult {
  readonly stopped: readonly ComponentName[];
  /** Processes found by the sweep after the components stopped (one a component left behind). */
  readonly leftovers: readonly number[];
}

/**
 * Stops every process of the local cluster: the real node first (it stops its pods and puts the
 * host back), then the control plane, then anything left carrying the cluster's marker. Wipes
 * etcd's data so the next `up` starts empty; keeps the certificates and logs.
 */
export async function clusterDown(options: ClusterOptions = {}): Promise<DownResult> {
  const { layout, progress } = resolveOptions(options);
  // The real node first, while the API server can still tell its kubelet to stop the pods.
  const kubectl = (await readClusterRecord(layout.recordFile))?.binaries.kubectl.path;
  await stopRealNode({ cluster: layout, kubectl, progress });
  const records = await readRecords(layout, componentNames);
  const stopped = await stopComponents(layout, records, componentNames, progress);
  const leftovers = findLeftovers(layout.stateDir, [...records.values()]);
  if (leftovers.length > 0) {
    progress(`stopping ${leftovers.length} leftover process(es): ${leftovers.join(', ')}`);
    await killLeftovers(() => findLeftovers(layout.stateDir, [...records.values()]), 5000);
  }
  await removeClusterRecord(layout.recordFile);
  await rm(layout.etcdDataDir, { recursive: true, force: true });
  const remaining = findLeftovers(layout.stateDir, [...records.values()]);
  if (remaining.length > 0) {
    throw new ClusterError(
      'ExitedEarly',
      `processes still running after SIGKILL: ${remaining.join(', ')}`,
      { component: 'cluster' },
    );
  }
  progress(
    stopped.length === 0 && leftovers.length === 0
      ? 'local cluster was not running; nothing left behind'
      : 'local cluster stopped; no process left behind',
  );
  return { stopped, leftovers };
}

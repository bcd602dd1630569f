/**
 * Restarts the local cluster's kube-apiserver in place: SIGTERM (SIGKILL after a short grace:
 * its graceful shutdown would take longer than the outage a test wants), then the same command line
 * again (from its pid record), then wait for /readyz. The other components keep running and
 * find it again on their own, which is what a test of watch recovery wants. Holds the cluster
 * lock meanwhile, so a concurrent `cluster up` does not "repair" it halfway.
 */
import { readClusterRecord } from '../../tools/cluster/clusterRecord.ts';
import { componentHealth } from '../../tools/cluster/componentHealth.ts';
import { clusterLayout, pidFile } from '../../tools/cluster/layout.ts';
import { acquireLock } from '../../tools/cluster/lock.ts';
import { pkiFiles } from '../../tools/cluster/pki.ts';
import { errorText, pollUntil } from '../../tools/cluster/polling.ts';
import {
  isAlive,
  markerVariable,
  readRecord,
  startDetached,
  stopProcess,
} from '../../tools/cluster/supervisor.ts';
import { kubeconfigPath } from './kube.ts';

const COMPONENT = 'kube-apiserver';

/** Whether the tests talk to the local cluster and its API server is one this helper can restart. */
export async function canRestartApiServer(): Promise<boolean> {
  const layout = clusterLayout();
  if (kubeconfigPath() !== layout.kubeconfig) return false;
  const record = await readRecord(pidFile(layout, COMPONENT));
  return record !== undefined && isAlive(record);
}

export interface RestartTiming {
  /** From SIGTERM until the old process was gone. */
  readonly stopMs: number;
  /** From the new process's start until /readyz answered. */
  readonly readyMs: number;
}

export async function restartApiServer(): Promise<RestartTiming> {
  const layout = clusterLayout();
  const release = await acquireLock(layout.lockFile, () => undefined, 120_000);
  try {
    const cluster = await readClusterRecord(layout.recordFile);
    const record = await readRecord(pidFile(layout, COMPONENT));
    if (cluster === undefined || record === undefined) {
      throw new Error('the local cluster has no kube-apiserver record: is it running?');
    }
    const stopping = Date.now();
    await stopProcess(record, { graceMs: 3_000 });
    const starting = Date.now();
    const started = await startDetached({
      component: COMPONENT,
      command: record.command,
      args: record.args,
      cwd: layout.repoRoot,
      env: { ...process.env, [markerVariable]: layout.stateDir },
      logFile: record.logFile,
      pidFile: pidFile(layout, COMPONENT),
    });
    const health = componentHealth(cluster.ports, pkiFiles(layout.pkiDir));
    const outcome = await pollUntil(() => health.ready(COMPONENT), {
      timeoutMs: 120_000,
      intervalMs: 200,
      abortIf: () => (started.exitStatus() === undefined ? undefined : 'it exited'),
    });
    if (outcome.kind !== 'done') {
      const why = outcome.kind === 'aborted' ? outcome.reason : errorText(outcome.lastError);
      throw new Error(`kube-apiserver did not come back: ${why} (log ${record.logFile})`);
    }
    return { stopMs: starting - stopping, readyMs: Date.now() - starting };
  } finally {
    await release();
  }
}

/**
 * Restarts the cluster's kube-apiserver in place: SIGTERM (SIGKILL after a short grace: its
 * graceful shutdown would take longer than the outage a test wants), the same command line
 * again, then wait for /readyz. The other components keep running and find it again on their
 * own, which is what a test of watch recovery wants.
 *
 * - The local cluster: the process from its pid record, started again by this helper, holding
 *   the cluster lock meanwhile so that a concurrent `cluster up` does not "repair" it halfway.
 * - kind: the static pod's container, stopped with crictl inside the node; the kubelet starts
 *   it again in the same pod (a second restart within minutes waits out the kubelet's back-off).
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
import { kindClusterName, inKindNode } from '../../tools/kindNode/kindCluster.ts';
import { kubeconfigPath, kubectl } from './kube.ts';
import { waitFor } from './waitFor.ts';

const COMPONENT = 'kube-apiserver';

/** Whether the tests' cluster is the local one or kind, whose API server this helper restarts. */
export async function canRestartApiServer(): Promise<boolean> {
  if (kindClusterName() !== undefined) return true;
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
  const kind = kindClusterName();
  return kind === undefined ? restartLocalApiServer() : restartKindApiServer(kind);
}

async function restartKindApiServer(cluster: string): Promise<RestartTiming> {
  const running = async (): Promise<string> =>
    (
      await inKindNode(cluster, [
        'crictl',
        'ps',
        '--name',
        '^kube-apiserver$',
        '--state',
        'running',
        '--quiet',
      ])
    ).stdout.trim();
  const before = await running();
  if (before === '') throw new Error(`kind cluster ${cluster} runs no kube-apiserver container`);
  const stopping = Date.now();
  await inKindNode(cluster, ['crictl', 'stop', '--timeout', '3', before]);
  const starting = Date.now();
  await waitFor(
    async () => {
      const now = await running();
      return now !== '' && now !== before;
    },
    {
      timeoutMs: 360_000,
      intervalMs: 500,
      description: 'the kubelet to start kube-apiserver again',
    },
  );
  await waitFor(
    async () => (await kubectl(['get', '--raw', '/readyz'], { allowFailure: true })).code === 0,
    { timeoutMs: 120_000, intervalMs: 200, description: 'kube-apiserver to answer /readyz again' },
  );
  return { stopMs: starting - stopping, readyMs: Date.now() - starting };
}

async function restartLocalApiServer(): Promise<RestartTiming> {
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

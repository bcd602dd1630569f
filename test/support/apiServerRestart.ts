/**
 * Restarts the cluster's kube-apiserver in place, which is what a test of watch recovery wants:
 * the other components keep running and find it again on their own. On kind, the static pod's
 * container is stopped with crictl inside the node and the kubelet starts it again in the same
 * pod (a second restart within minutes waits out the kubelet's back-off); then /readyz is
 * waited for.
 */
import { kindClusterName, inKindNode } from '../../tools/kindNode/kindCluster.ts';
import { kubectl } from './kube.ts';
import { waitFor } from './waitFor.ts';

/** Whether the tests' cluster is kind's, whose API server this helper restarts. */
export function canRestartApiServer(): Promise<boolean> {
  return Promise.resolve(kindClusterName() !== undefined);
}

export interface RestartTiming {
  /** From SIGTERM until the old process was gone. */
  readonly stopMs: number;
  /** From the new process's start until /readyz answered. */
  readonly readyMs: number;
}

export async function restartApiServer(): Promise<RestartTiming> {
  const cluster = kindClusterName();
  if (cluster === undefined) throw new Error("restartApiServer() needs the suites' kind cluster");
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

/**
 * The port-forward reach's forwarder (demo/portForwarder.ts) started and recorded in the state
 * file, then waited for until every agent pod has a forward. `make up` starts it with the
 * environment, and again when it reuses an environment whose forwarder has died (a laptop that
 * slept, a `kill`): the addresses it prints must answer.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { agentPods } from './agentPods.ts';
import { REPLICAS, type DemoLayout } from './demoLayout.ts';
import { startProcess } from './demoProcesses.ts';
import { writeState, type DemoState } from './demoState.ts';
import { required } from './environmentError.ts';
import { stopProcess } from '../tools/cluster/supervisor.ts';
import { waitFor } from './waitFor.ts';

export async function startPortForwards(
  current: DemoState,
  layout: DemoLayout,
  client: HttpKubeClient,
  progress: Progress,
  signal?: AbortSignal,
): Promise<DemoState> {
  progress('▸ kubectl port-forward to each agent pod (demo/portForwarder.ts)');
  const previous = current.processes['port-forwards'];
  if (previous !== undefined) await stopProcess(previous, { graceMs: 5_000 });
  // A map an earlier run left names pods and ports that are gone.
  await rm(layout.forwardsFile, { force: true });
  const forwarder = await startProcess(layout, 'port-forwards', [
    join(layout.repoRoot, 'demo/portForwarder.ts'),
    '--kubeconfig',
    required(current.kubeconfig, 'kubeconfig'),
    '--kubectl',
    required(current.kubectl, 'kubectl'),
    '--out',
    layout.forwardsFile,
  ]);
  const reach = required(current.reach, 'reach');
  const state: DemoState = {
    ...current,
    processes: { ...current.processes, 'port-forwards': forwarder },
    reach: { ...reach, forwardsFile: layout.forwardsFile },
  };
  await writeState(layout.stateFile, state);
  await waitFor(
    async () => {
      const pods = await agentPods(client, { forwardsFile: layout.forwardsFile });
      return pods.filter((p) => p.ready).length >= REPLICAS;
    },
    { what: `a forward to each of the ${REPLICAS} agent pods`, timeoutMs: 60_000, signal },
  );
  for (const pod of await agentPods(client, { forwardsFile: layout.forwardsFile })) {
    progress(`   ${pod.name}: ${pod.url ?? '-'} (metrics ${pod.metricsUrl ?? '-'})`);
  }
  return state;
}

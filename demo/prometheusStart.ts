import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import { errorText } from '../tools/cluster/polling.ts';
import { stopProcess } from '../tools/cluster/supervisor.ts';
import { REPLICAS, type DemoLayout } from './demoLayout.ts';
import { startProcess } from './demoProcesses.ts';
import { writeState, type DemoState } from './demoState.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { required } from './environmentError.ts';
import { preparePrometheus, targetHealth, waitForPrometheus } from './prometheus.ts';
import { agentTargets, writeTargets } from './scrapeTargets.ts';
import { waitFor } from './waitFor.ts';

/**
 * Prometheus and the process that keeps its list of agent pods current; each is recorded
 * in the state file as soon as it runs.
 */
export async function addPrometheus(
  current: DemoState,
  layout: DemoLayout,
  progress: Progress,
): Promise<DemoState> {
  progress('▸ Prometheus (scraping the agent pods and the operator, Breakwater rules loaded)');
  let state = current;
  const save = async (change: Partial<DemoState>): Promise<void> => {
    state = { ...state, ...change };
    await writeState(layout.stateFile, state);
  };
  const kubeconfig = required(state.kubeconfig, 'kubeconfig');
  const previous = state.processes['scrape-targets'];
  if (previous !== undefined) await stopProcess(previous, { graceMs: 5_000 });
  const targetsFile = join(layout.prometheusDir, 'agent-targets.json');
  await mkdir(layout.prometheusDir, { recursive: true });
  // In the port-forward reach Prometheus scrapes the pods through their forwards too.
  const forwardsFile = state.reach?.forwardsFile;
  await writeTargets(
    targetsFile,
    await agentTargets(HttpKubeClient.fromKubeconfig(kubeconfig), forwardsFile),
  );
  const refresher = await startProcess(layout, 'scrape-targets', [
    join(layout.repoRoot, 'demo/targetRefresher.ts'),
    '--kubeconfig',
    kubeconfig,
    '--out',
    targetsFile,
    ...(forwardsFile === undefined ? [] : ['--forwards', forwardsFile]),
  ]);
  await save({ processes: { ...state.processes, 'scrape-targets': refresher } });

  const prepared = await preparePrometheus({
    layout,
    operatorMetrics: required(state.endpoints.operatorMetrics, 'operator metrics'),
    targetsFile,
    progress: (line) => {
      progress(`   ${line}`);
    },
  });
  const prometheus = await startProcess(layout, 'prometheus', prepared.args, prepared.binary);
  await save({
    processes: { ...state.processes, prometheus },
    endpoints: { ...state.endpoints, prometheus: prepared.url },
  });
  await waitForPrometheus(prepared.url, prometheus);
  progress(
    `   ready at ${prepared.url} (config ${relative(layout.repoRoot, prepared.configFile)}, ` +
      `log ${relative(layout.repoRoot, prometheus.logFile)})`,
  );
  // The first scrapes come within one interval (5s): say what they found.
  await waitFor(
    async () => {
      const health = await targetHealth(prepared.url);
      const up = (job: string): number => health[job]?.['up'] ?? 0;
      if (up('breakwater-operator') < 1 || up('breakwater-agents') < REPLICAS) return false;
      progress(`   scraping the operator and ${up('breakwater-agents')} agent pods: all up`);
      return true;
    },
    { what: 'Prometheus to scrape the operator and every agent pod', timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    progress(`   ${errorText(err)}; see ${prepared.url}/targets`);
  });
  return state;
}

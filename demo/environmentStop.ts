/**
 * Stopping the demo environment: what the state file says was started, in reverse order, and
 * any process that carries the demo's marker but the state file lost.
 */
import { existsSync } from 'node:fs';
import { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import { kubectlFor } from '../tools/cluster/kubectl.ts';
import { acquireLock } from '../tools/cluster/lock.ts';
import { errorText } from '../tools/cluster/polling.ts';
import {
  findLeftovers,
  killLeftovers,
  stopProcess,
  type ProcessRecord,
} from '../tools/cluster/supervisor.ts';
import { agentPods } from './agentPods.ts';
import { kindClusterHandle } from '../tools/clusterAccess.ts';
import { DEMO_NAMESPACE, demoLayout, type DemoLayout } from './demoLayout.ts';
import { PROCESS_LABELS } from './demoProcesses.ts';
import { readState, removeState, type DemoState, type ProcessName } from './demoState.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { waitFor } from './waitFor.ts';

export interface StopReport {
  readonly stopped: readonly string[];
  readonly leftovers: readonly number[];
}

/** Stops what the state file says was started; safe to call when nothing runs. */
export async function stopEnvironment(
  progress: Progress,
  layout: DemoLayout = demoLayout(),
): Promise<StopReport> {
  const release = await acquireLock(layout.lockFile, progress, 10 * 60_000);
  try {
    const state = await readState(layout.stateFile);
    if (state === undefined) {
      const leftovers = await stopStrays(layout, [], progress);
      progress('nothing of the demo environment was running');
      return { stopped: [], leftovers };
    }
    const report = await stopRecorded(state, layout, progress);
    await removeState(layout.stateFile);
    return report;
  } finally {
    await release();
  }
}

export async function stopRecorded(
  state: DemoState,
  layout: DemoLayout,
  progress: Progress,
): Promise<StopReport> {
  const stopped: string[] = [];
  // A kubeconfig that is gone went with its cluster (taken down by hand, say): nothing of the
  // demo is left in it to delete.
  const kubeconfig =
    state.kubeconfig !== undefined && existsSync(state.kubeconfig) ? state.kubeconfig : undefined;
  const client = kubeconfig === undefined ? undefined : HttpKubeClient.fromKubeconfig(kubeconfig);
  const kubectl =
    state.kubectl === undefined || kubeconfig === undefined
      ? undefined
      : kubectlFor(state.kubectl, kubeconfig);

  // A cluster we started goes down whole; in a cluster that was there before, our namespace
  // goes (its pods with it).
  if (!state.startedCluster && state.createdNamespace && kubectl !== undefined && client) {
    progress(`▸ deleting namespace ${DEMO_NAMESPACE} (the agent's pods stop with it)`);
    const deleted = await kubectl(
      ['delete', 'namespace', DEMO_NAMESPACE, '--ignore-not-found', '--wait=false'],
      { allowFailure: true },
    );
    if (deleted.code === 0) {
      await waitFor(
        async () => (await agentPods(client, { includeTerminating: true })).length === 0,
        {
          what: `the pods of ${DEMO_NAMESPACE} to stop`,
          timeoutMs: 60_000,
        },
      ).catch((err: unknown) => {
        progress(`   ${errorText(err)}`);
      });
      stopped.push(`namespace ${DEMO_NAMESPACE}`);
    } else {
      progress(`   could not delete it: ${deleted.stderr.trim()}`);
    }
  }

  const order: ProcessName[] = [
    'port-forwards',
    'prometheus',
    'scrape-targets',
    'operator',
    'simulator',
  ];
  for (const name of order) {
    const record = state.processes[name];
    if (record === undefined) continue;
    const outcome = await stopProcess(record, { graceMs: 10_000 });
    if (outcome !== 'not-running') {
      progress(
        `▸ stopped the ${PROCESS_LABELS[name]} (pid ${record.pid}${outcome === 'killed' ? ', killed' : ''})`,
      );
      stopped.push(PROCESS_LABELS[name]);
    }
  }

  if (state.cluster === undefined || state.cluster === 'local') {
    if (state.startedCluster) {
      progress(
        '▸ an earlier version of the demo started the local cluster (tools/cluster), which this ' +
          "version no longer runs: stop it with that version's `make cluster-down`",
      );
    }
  } else {
    const cluster = kindClusterHandle({ ...process.env, BREAKWATER_KIND_CLUSTER: state.cluster });
    if (state.startedCluster) {
      progress(`▸ taking ${cluster.title} down (the demo brought it up)`);
      await cluster.down();
      stopped.push(cluster.title.replace(/^the /, ''));
    } else if (kubeconfig !== undefined) {
      progress(
        `▸ ${cluster.title} keeps running (it was running before); ` +
          `\`BREAKWATER_KIND_CLUSTER=${cluster.name} make kind-down\` takes it down`,
      );
    }
  }

  const records: ProcessRecord[] = Object.values(state.processes);
  const leftovers = await stopStrays(layout, records, progress);
  return { stopped, leftovers };
}

/** Any process that carries the demo's marker or lives in a session the demo started. */
export async function stopStrays(
  layout: DemoLayout,
  records: readonly ProcessRecord[],
  progress: Progress,
): Promise<number[]> {
  const strays = findLeftovers(layout.dir, records);
  if (strays.length > 0) {
    progress(`▸ stopping ${strays.length} leftover process(es): ${strays.join(', ')}`);
    await killLeftovers(() => findLeftovers(layout.dir, records), 5_000);
  }
  return strays;
}

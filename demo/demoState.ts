/**
 * `.breakwater/demo/state.json`: what the demo environment started, written after every
 * step, so that `make down`, Ctrl-C and a later `make demo` stop exactly that and nothing
 * else (never a cluster that was running before, never another engineer's processes).
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProcessIdentity, ProcessRecord } from '../tools/cluster/supervisor.ts';
import type { Provider } from './manifests.ts';
import type { ReachChoice } from './reach.ts';

/** What the environment runs besides the cluster and the agent's pods. */
export type ProcessName =
  'simulator' | 'operator' | 'prometheus' | 'scrape-targets' | 'port-forwards';

export interface DemoState {
  readonly version: 1;
  /** `demo` runs a scenario and stops everything; `up` leaves it running. */
  readonly purpose: 'demo' | 'up';
  /** The `make demo` process while it runs (absent for `make up`). */
  readonly owner?: ProcessIdentity;
  readonly startedAt: string;
  readonly namespace: string;
  readonly kubeconfig?: string;
  readonly kubectl?: string;
  /**
   * The kind cluster it runs in. An earlier version's state file says `local` here (or nothing):
   * the local cluster it ran in is gone from this version, which cannot stop it.
   */
  readonly cluster?: string;
  /** The cluster was not running before: stopping the environment stops it too. */
  readonly startedCluster: boolean;
  /** The namespace was created (it is deleted on the way down). */
  readonly createdNamespace: boolean;
  readonly provider?: Provider;
  /**
   * How this machine reaches the pods (demo/reach.ts); with port-forward, the file
   * demo/portForwarder.ts keeps. Absent in an earlier version's file: routes.
   */
  readonly reach?: ReachChoice & { readonly forwardsFile?: string };
  readonly processes: Readonly<Partial<Record<ProcessName, ProcessRecord>>>;
  readonly endpoints: {
    readonly simulator?: string;
    readonly operatorMetrics?: string;
    readonly operatorHealth?: string;
    readonly prometheus?: string;
  };
}

export async function readState(path: string): Promise<DemoState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    // A state file of another version is not ours to act on.
    const state = JSON.parse(text) as Partial<Record<keyof DemoState, unknown>>;
    return state.version === 1 ? (state as DemoState) : undefined;
  } catch {
    return undefined;
  }
}

export async function writeState(path: string, state: DemoState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await writeFile(partial, `${JSON.stringify(state, null, 2)}\n`);
  await rename(partial, path);
}

export async function removeState(path: string): Promise<void> {
  await rm(path, { force: true });
}

import { relative } from 'node:path';
import {
  clusterLayoutFromEnv,
  componentNames,
  pidFile,
  type ClusterLayout,
  type ComponentName,
} from './layout.ts';
import { printProgress, type Progress } from './progress.ts';
import {
  markerVariable,
  readRecord,
  removeRecord,
  startDetached,
  stopProcess,
  type ProcessRecord,
  type StartedProcess,
} from './supervisor.ts';

/**
 * What `up`, `down` and `status` share: options, timing, the pid files, starting a process,
 * stopping in order.
 */

export interface ClusterOptions {
  readonly layout?: ClusterLayout;
  readonly env?: NodeJS.ProcessEnv;
  readonly progress?: Progress;
}

export interface Timing {
  /** How long a fresh start may take to become ready. */
  readonly readyMs: number;
  /** How long SIGTERM may take before SIGKILL. */
  readonly stopGraceMs: number;
}

export const timing: Readonly<Record<ComponentName, Timing>> = {
  etcd: { readyMs: 30_000, stopGraceMs: 10_000 },
  'kube-apiserver': { readyMs: 120_000, stopGraceMs: 15_000 },
  'kube-controller-manager': { readyMs: 60_000, stopGraceMs: 10_000 },
  'kube-scheduler': { readyMs: 60_000, stopGraceMs: 10_000 },
};

export function resolveOptions(options: ClusterOptions): Required<ClusterOptions> {
  const env = options.env ?? process.env;
  return {
    layout: options.layout ?? clusterLayoutFromEnv(env),
    env,
    progress: options.progress ?? printProgress,
  };
}

export async function readRecords(
  layout: ClusterLayout,
  components: readonly ComponentName[],
): Promise<Map<ComponentName, ProcessRecord>> {
  const records = new Map<ComponentName, ProcessRecord>();
  for (const name of components) {
    const record = await readRecord(pidFile(layout, name));
    if (record !== undefined) records.set(name, record);
  }
  return records;
}

/** A process of the cluster (a control-plane component or a piece of the real node) to start. */
export interface ComponentLaunch {
  readonly name: string;
  readonly command: { readonly command: string; readonly args: readonly string[] };
  readonly logFile: string;
  readonly pidFile: string;
}

/**
 * Starts a process of the cluster detached, marked with the cluster's state directory (how
 * leftovers are found), and says where it logs. Waiting until it is ready is the caller's.
 */
export async function startComponent(
  layout: ClusterLayout,
  launch: ComponentLaunch,
  progress: Progress,
): Promise<StartedProcess> {
  const started = await startDetached({
    component: launch.name,
    command: launch.command.command,
    args: launch.command.args,
    cwd: layout.repoRoot,
    env: { ...process.env, [markerVariable]: layout.stateDir },
    logFile: launch.logFile,
    pidFile: launch.pidFile,
  });
  const log = relative(layout.repoRoot, launch.logFile);
  progress(`starting ${launch.name} (pid ${started.record.pid}, log ${log})`);
  return started;
}

/** Stops the named components, the last-started first. */
export async function stopComponents(
  layout: ClusterLayout,
  records: ReadonlyMap<ComponentName, ProcessRecord>,
  names: readonly ComponentName[],
  progress: Progress,
): Promise<ComponentName[]> {
  const stopped: ComponentName[] = [];
  for (const name of [...componentNames].reverse()) {
    const record = records.get(name);
    if (!names.includes(name) || record === undefined) continue;
    const outcome = await stopProcess(record, { graceMs: timing[name].stopGraceMs });
    if (outcome === 'not-running') {
      progress(`${name} was no longer running (pid ${record.pid})`);
    } else {
      stopped.push(name);
      progress(
        `stopped ${name} (pid ${record.pid}${outcome === 'killed' ? ', after SIGKILL' : ''})`,
      );
    }
    await removeRecord(pidFile(layout, name));
  }
  return stopped;
}

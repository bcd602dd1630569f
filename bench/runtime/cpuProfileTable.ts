/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) into self time by function and by file, per call
 * served: for `bench/runtime.ts --only hotpath --cpu-prof DIR`, which sets a runtime's table
 * beside the bare proxy's, so that what a call pays over the proxy shows by where it goes.
 *
 * The profiler samples the main thread on a wall-clock tick: on a loaded machine a thread
 * waiting for a core is charged, in the sample it takes once it runs again, all the time it
 * waited. So each sample is charged at most one sampling interval (the median gap between
 * samples): a thread that runs is sampled once an interval, one that waits is not sampled at
 * all, and the sum comes near its on-CPU time rather than its wall time. Read the per-call
 * figures as approximate all the same.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  /** Microseconds on the monotonic clock that process.hrtime reads too. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTimes {
  /** Microseconds of self time per call, by function (`name file:line`). */
  readonly byFunction: Map<string, number>;
  /** The same by file: a project source, a package, a Node internal module, or a V8 bucket. */
  readonly byFile: Map<string, number>;
  /** Everything but idle, per call. */
  readonly busyUsPerCall: number;
}

/** Where a frame's code lives, short: `runtime/src/…`, `fastify`, `node:_http_server`, `(gc)`. */
function fileOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  const at = url.search(/\/(runtime|contract|bench|test)\//);
  return at >= 0 ? url.slice(at + 1) : url;
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/**
 * Self time of one profile between two instants (µs of process.hrtime, the profiler's clock),
 * divided by the calls the process served between them: start-up and warm-up left out.
 */
export function selfTimes(
  file: string,
  calls: number,
  window: { readonly fromUs: number; readonly toUs: number },
): SelfTimes {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  const interval = samplingInterval(profile.timeDeltas);
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time since the one before: charged to this sample's frame, up
    // to one interval (what is past it the thread spent waiting for a core).
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const us = Math.min(delta, interval);
    if (at < window.fromUs || at > window.toUs) return;
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined || frame.functionName === '(idle)') return;
    busy += us;
    const where = fileOf(frame.url, frame.functionName);
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    add(byFunction, `${name} ${where}:${String(frame.lineNumber + 1)}`, us / calls);
    add(byFile, where, us / calls);
  });
  return { byFunction, byFile, busyUsPerCall: busy / calls };
}

/** The profiler's tick: the median gap between two samples. */
function samplingInterval(deltas: readonly number[]): number {
  const sorted = deltas.filter((d) => d > 0).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Infinity;
}

const fmt = (us: number | undefined) => (us === undefined ? '—' : us.toFixed(1));

/**
 * A markdown table of the rows where the runtime spends most per call, each beside the proxy's
 * figure for the same key (Node's own modules are shared; the runtime's code is its own).
 */
export function profileTable(
  title: string,
  key: 'byFunction' | 'byFile',
  runtime: SelfTimes,
  others: readonly (readonly [string, SelfTimes])[],
  rows = 25,
): string {
  // The rows largest in any column: a row of the floor's own (undici loaded from its files,
  // where the runtime's bundle has it in a chunk) shows beside the runtime's.
  const largest = new Map(runtime[key]);
  for (const [, t] of others)
    for (const [name, us] of t[key]) largest.set(name, Math.max(us, largest.get(name) ?? 0));
  const top = [...largest.keys()]
    .sort((a, b) => (largest.get(b) ?? 0) - (largest.get(a) ?? 0))
    .slice(0, rows);
  const busy = others.map(([name, t]) => `, ${name} ${fmt(t.busyUsPerCall)}`).join('');
  const lines = [
    `${title}: self time, µs per call (busy: runtime ${fmt(runtime.busyUsPerCall)}${busy})`,
    '',
    `| ${key === 'byFile' ? 'file' : 'function'} | runtime | ${others.map(([name]) => name).join(' | ')} |`,
    `| --- | --- | ${others.map(() => '---').join(' | ')} |`,
    ...top.map(
      (name) =>
        `| ${name} | ${fmt(runtime[key].get(name))} | ${others.map(([, t]) => fmt(t[key].get(name))).join(' | ')} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

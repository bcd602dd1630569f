/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) into self time by function and by file, per call
 * served: for `bench/runtime.ts --only hotpath --cpu-prof DIR`, which sets a runtime's table
 * beside the bare proxy's, so that what a call pays over the proxy shows by where it goes.
 *
 * The profiler samples the main thread on a wall-clock tick: on a loaded machine a thread
 * waiting for a core is sampled where it waits (a system call, mostly), so read the rows for
 * their proportions within one profile, and the per-call figures as approximate.
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
  profile.samples.forEach((id, i) => {
    // A sample's delta is the time since the one before: charged to this sample's frame.
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
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
  const top = [...runtime[key].entries()].sort((a, b) => b[1] - a[1]).slice(0, rows);
  const busy = others.map(([name, t]) => `, ${name} ${fmt(t.busyUsPerCall)}`).join('');
  const lines = [
    `${title}: self time, µs per call (busy: runtime ${fmt(runtime.busyUsPerCall)}${busy})`,
    '',
    `| ${key === 'byFile' ? 'file' : 'function'} | runtime | ${others.map(([name]) => name).join(' | ')} |`,
    `| --- | --- | ${others.map(() => '---').join(' | ')} |`,
    ...top.map(
      ([name, us]) =>
        `| ${name} | ${fmt(us)} | ${others.map(([, t]) => fmt(t[key].get(name))).join(' | ')} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

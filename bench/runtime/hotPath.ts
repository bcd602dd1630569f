/**
 * `bench/runtime.ts --only hotpath`: CPU time per call of the runtime against the bare
 * node:http proxy, plain calls and streams apart, on one simulator (issue 53's measure: ≤ 1.1x
 * the proxy's). Each mix gets fresh processes: the proxy, this checkout's runtime, and with
 * `--baseline DIR` a runtime from that checkout too (before and after in the same rounds).
 * Rounds are interleaved, the order rotating each round, so that load from other work lands on
 * every path alike; a ratio is the median of the per-round ratios, with their min–max.
 *
 * With `--cpu-prof DIR` every process writes a V8 profile, and the run prints where a call's
 * time goes: self time per call by file and by function, the runtime's beside the proxy's.
 * Profiling slows every path; the ratios of a profiled run are not the measure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median } from '../../tools/stats/samples.ts';
import { closedLoop } from './closedLoopLoad.ts';
import { profileTable, selfTimes } from './cpuProfileTable.ts';
import { cpuUs } from './processProbe.ts';

export interface HotPathOptions {
  readonly policyFile: string;
  readonly env: Readonly<Record<string, string>>;
  readonly simulatorPort: number;
  readonly mixes: readonly {
    readonly name: string;
    readonly requests: (port: number) => Buffer[];
  }[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  /** Another checkout's directory: its runtime runs in the same rounds, as `before`. */
  readonly baseline?: string;
  /** Node flags for the `before` runtime (this checkout's unless `baseline`): a flag's cost. */
  readonly baselineNodeArgs?: readonly string[];
  /** Environment variables for the `before` runtime alone (an allocator setting's cost). */
  readonly baselineEnv?: Readonly<Record<string, string>>;
  /** Every process writes a CPU profile under this directory; the tables are printed. */
  readonly profileDir?: string;
  /**
   * The parsing proxy (parsingProxy.ts: the body's JSON read, undici, the answer's usage read)
   * in the same rounds, as `floor`: what the work any guarding proxy must do costs.
   */
  readonly floor?: boolean;
  /**
   * Every process this comparison starts writes /tmp/perf-PID.map (`--perf-basic-prof`), so that
   * `perf record -e cpu-clock -a -g` names their JavaScript: on-CPU samples, where the V8
   * profiler's are wall-clock ones.
   */
  readonly perfMap?: boolean;
}

interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly stop: () => Promise<unknown>;
  calls: number;
  readonly cpuUsPerCall: number[];
}

/** The profiler's clock: monotonic microseconds, as V8 stamps its samples. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const round2 = (x: number) => Math.round(x * 100) / 100;

function profiling(
  dir: string | undefined,
  name: string,
  perfMap: boolean | undefined,
): Record<string, string> {
  const flags = perfMap === true ? ['--perf-basic-prof'] : [];
  if (dir !== undefined) {
    mkdirSync(join(dir, name), { recursive: true });
    flags.push('--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${join(dir, name)}`);
  }
  return flags.length === 0 ? {} : { NODE_OPTIONS: flags.join(' ') };
}

function startProxy(
  name: 'proxy' | 'floor',
  target: number,
  env: Record<string, string>,
): Promise<Proc> {
  const file = name === 'proxy' ? './passThroughProxy.ts' : './parsingProxy.ts';
  const script = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(process.execPath, [script, '--target', String(target)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    void exited.then(() => {
      reject(new Error(`${name} exited before listening`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const parsed = JSON.parse(line) as { port?: number };
      if (parsed.port !== undefined)
        resolve({
          name,
          pid: child.pid ?? 0,
          port: parsed.port,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
          calls: 0,
          cpuUsPerCall: [],
        });
    });
  });
}

function runtimeProc(name: string, rt: RuntimeHandle): Proc {
  return {
    name,
    pid: rt.child.pid ?? 0,
    port: Number(new URL(rt.url).port),
    stop: () => rt.stop(),
    calls: 0,
    cpuUsPerCall: [],
  };
}

function spread(values: readonly number[]) {
  return {
    median: round2(median(values)),
    min: round2(Math.min(...values)),
    max: round2(Math.max(...values)),
    perRound: values.map(round2),
  };
}

/**
 * The before runtime's entry point: its bundle when this runtime runs from one
 * (BREAKWATER_TEST_RUNTIME_MAIN) and the checkout has one built, so that both sides run alike;
 * its source otherwise.
 */
function baselineMain(dir: string): string {
  const bundle = join(dir, 'dist/runtime/bundle/main.js');
  return process.env['BREAKWATER_TEST_RUNTIME_MAIN'] !== undefined && existsSync(bundle)
    ? bundle
    : join(dir, 'runtime/src/main.ts');
}

async function oneMix(options: HotPathOptions, mix: HotPathOptions['mixes'][number]) {
  const at = (name: string) =>
    profiling(
      options.profileDir === undefined ? undefined : join(options.profileDir, mix.name),
      name,
      options.perfMap,
    );
  const start = async (
    name: string,
    main?: string,
    nodeArgs?: readonly string[],
    env: Readonly<Record<string, string>> = {},
  ) =>
    runtimeProc(
      name,
      await startRuntime(
        ['--policy', options.policyFile, '--log-level', 'warn'],
        { ...options.env, ...env, ...at(name) },
        {
          ...(main === undefined ? {} : { main }),
          ...(nodeArgs === undefined ? {} : { nodeArgs }),
        },
      ),
    );
  const procs: Proc[] = [await startProxy('proxy', options.simulatorPort, at('proxy'))];
  const window = { fromUs: 0, toUs: 0 };
  try {
    procs.push(await start('runtime'));
    if (
      options.baseline !== undefined ||
      options.baselineNodeArgs !== undefined ||
      options.baselineEnv !== undefined
    )
      procs.push(
        await start(
          'before',
          options.baseline === undefined ? undefined : baselineMain(options.baseline),
          options.baselineNodeArgs,
          options.baselineEnv,
        ),
      );
    if (options.floor === true)
      procs.push(await startProxy('floor', options.simulatorPort, at('floor')));
    const run = async (p: Proc, durationMs: number) => {
      const before = cpuUs(p.pid);
      const load = await closedLoop({
        port: p.port,
        requests: mix.requests(p.port),
        concurrency: options.concurrency,
        durationMs,
      });
      if (load.errors > 0) throw new Error(`${p.name}: ${String(load.errors)} errors`);
      p.calls += load.requests;
      return (cpuUs(p.pid) - before) / Math.max(1, load.requests);
    };
    for (const p of procs) await run(p, options.warmupMs);
    for (const p of procs) p.calls = 0;
    window.fromUs = nowUs();
    for (let r = 0; r < options.rounds; r++) {
      // Rotated: every path takes every place in the order as often as the rounds allow.
      const order = procs.map((_, i) => procs[(i + r) % procs.length] as Proc);
      for (const p of order) p.cpuUsPerCall.push(await run(p, options.roundMs));
    }
    window.toUs = nowUs();
  } finally {
    for (const p of procs) await p.stop();
  }
  const [proxy, runtime] = procs as [Proc, Proc];
  const before = procs.find((p) => p.name === 'before');
  const floor = procs.find((p) => p.name === 'floor');
  const ratio = (a: Proc, b: Proc) =>
    spread(a.cpuUsPerCall.map((x, i) => x / (b.cpuUsPerCall[i] ?? Number.NaN)));
  const profile =
    options.profileDir === undefined
      ? undefined
      : profileTables(join(options.profileDir, mix.name), runtime, [proxy, floor], window);
  return {
    cpuUsPerCall: Object.fromEntries(procs.map((p) => [p.name, spread(p.cpuUsPerCall)])),
    calls: Object.fromEntries(procs.map((p) => [p.name, p.calls])),
    runtimeOverProxy: ratio(runtime, proxy),
    ...(before === undefined
      ? {}
      : { beforeOverProxy: ratio(before, proxy), runtimeOverBefore: ratio(runtime, before) }),
    ...(floor === undefined
      ? {}
      : { floorOverProxy: ratio(floor, proxy), runtimeOverFloor: ratio(runtime, floor) }),
    ...(profile === undefined ? {} : { profile }),
  };
}

function profileTables(
  dir: string,
  runtime: Proc,
  others: readonly (Proc | undefined)[],
  window: { fromUs: number; toUs: number },
): string {
  const only = (name: string) => {
    const files = readdirSync(join(dir, name)).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length !== 1) throw new Error(`${dir}/${name}: ${String(files.length)} profiles`);
    return join(dir, name, files[0] as string);
  };
  // The measured rounds only: start-up and warm-up are not a call's cost.
  const times = (p: Proc) => selfTimes(only(p.name), p.calls, window);
  const rt = times(runtime);
  const columns = others.flatMap((p) => (p === undefined ? [] : [[p.name, times(p)] as const]));
  return `${profileTable('by file', 'byFile', rt, columns, 20)}\n${profileTable('by function', 'byFunction', rt, columns, 40)}`;
}

export async function hotPath(options: HotPathOptions) {
  const result: Record<string, Awaited<ReturnType<typeof oneMix>>> = {};
  for (const mix of options.mixes) result[mix.name] = await oneMix(options, mix);
  return {
    method:
      'CPU time per call (schedstat, all threads) of each process over interleaved rounds, the ' +
      'order rotating; fresh processes per mix; ratios are medians of per-round ratios (min–max)',
    rounds: options.rounds,
    roundMs: options.roundMs,
    concurrency: options.concurrency,
    mixes: result,
  };
}

export function hotPathLines(result: Awaited<ReturnType<typeof hotPath>>): string {
  const lines: string[] = [];
  for (const [name, mix] of Object.entries(result.mixes)) {
    const r = mix.runtimeOverProxy;
    const us = mix.cpuUsPerCall;
    const before =
      mix.runtimeOverBefore === undefined
        ? ''
        : ` before/proxy=${mix.beforeOverProxy?.median.toFixed(3) ?? ''} after/before=${mix.runtimeOverBefore.median.toFixed(3)} (${mix.runtimeOverBefore.min.toFixed(2)}–${mix.runtimeOverBefore.max.toFixed(2)}) before_us=${us.before?.median.toFixed(1) ?? ''}`;
    const floor =
      mix.runtimeOverFloor === undefined
        ? ''
        : ` floor/proxy=${mix.floorOverProxy?.median.toFixed(3) ?? ''} (${mix.floorOverProxy?.min.toFixed(2) ?? ''}–${mix.floorOverProxy?.max.toFixed(2) ?? ''}) runtime/floor=${mix.runtimeOverFloor.median.toFixed(3)} (${mix.runtimeOverFloor.min.toFixed(2)}–${mix.runtimeOverFloor.max.toFixed(2)}) floor_us=${us.floor?.median.toFixed(1) ?? ''}`;
    lines.push(
      `runtime hotpath ${name}: cpu_ratio=${r.median.toFixed(3)} (${r.min.toFixed(2)}–${r.max.toFixed(2)}) runtime_us=${us.runtime?.median.toFixed(1) ?? ''} proxy_us=${us.proxy?.median.toFixed(1) ?? ''}${before}${floor}\n`,
    );
    if (mix.profile !== undefined) lines.push(`\n${name}, profiled:\n\n${mix.profile}\n`);
  }
  return lines.join('');
}

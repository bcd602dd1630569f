/**
 * The 529-storm part of `make bench-runtime`: what a refused call costs the runtime while the
 * provider answers every request with 529 overloaded (in an outage, that is every call).
 *
 * Two runtimes on the bench's policy, both in front of the same simulator, whose every answer
 * is a 529 (both models):
 * - `enforce`: the breakers open within the first calls, and from then on each call is refused
 *   by them (503 + Retry-After), having failed over to the fallback model's open breaker;
 * - `shadow`: the breakers count but never refuse, so each call reaches the provider, is
 *   refused with its 529, retried within the retry budget, failed over to the fallback model,
 *   and answered 502 overloaded: the error path end to end.
 * Beside them the bare node:http pass-through proxy relays the same 529s: the floor.
 *
 * CPU per refused call is each server process's own user + system time from /proc/<pid>/stat
 * over a round, divided by the calls it answered in that round (every one of them refused);
 * the closed-loop generator drives each in turn, interleaved, and the figure is the median
 * over rounds.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { SimulatorHandle } from '../../test/support/simulator.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median } from '../../tools/stats/samples.ts';
import { closedLoop } from './closedLoopLoad.ts';
import { cpuMs } from './processProbe.ts';

export interface StormOptions {
  readonly sim: SimulatorHandle;
  readonly proxy: { readonly port: number; readonly pid: number };
  readonly policy: Readonly<Record<string, unknown>>;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  /** The mix's requests, encoded for a port. */
  readonly requests: (port: number) => Buffer[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
}

interface StormPath {
  readonly name: 'proxy' | 'enforce' | 'shadow';
  readonly port: number;
  readonly pid: number;
}

interface StormRound {
  readonly requests: number;
  readonly refused: number;
  readonly rps: number;
  readonly cpuUsPerRefusedCall: number;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

async function stormRound(path: StormPath, o: StormOptions): Promise<StormRound> {
  const before = cpuMs(path.pid);
  const run = await closedLoop({
    port: path.port,
    requests: o.requests(path.port),
    concurrency: o.concurrency,
    durationMs: o.roundMs,
  });
  const used = cpuMs(path.pid) - before;
  return {
    requests: run.requests,
    refused: run.errors,
    rps: round2(run.requests / run.seconds),
    cpuUsPerRefusedCall: round2((used * 1000) / Math.max(1, run.errors)),
  };
}

async function runtimeIn(o: StormOptions, mode: 'Enforce' | 'Shadow'): Promise<RuntimeHandle> {
  const file = join(o.dir, `storm-${mode}.json`);
  const breaker = o.policy.circuitBreaker as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...o.policy, circuitBreaker: { ...breaker, mode } }));
  return startRuntime(['--policy', file, '--log-level', 'warn'], o.env);
}

export async function overloadStorm(o: StormOptions) {
  const enforce = await runtimeIn(o, 'Enforce');
  const shadow = await runtimeIn(o, 'Shadow');
  const port = (r: RuntimeHandle) => Number(new URL(r.url).port);
  const paths: StormPath[] = [
    { name: 'proxy', port: o.proxy.port, pid: o.proxy.pid },
    { name: 'enforce', port: port(enforce), pid: enforce.child.pid ?? 0 },
    { name: 'shadow', port: port(shadow), pid: shadow.child.pid ?? 0 },
  ];
  try {
    await o.sim.setFault({ status: 529 });
    for (const path of paths) {
      await closedLoop({
        port: path.port,
        requests: o.requests(path.port),
        concurrency: o.concurrency,
        durationMs: o.warmupMs,
      });
    }
    const runs: Record<StormPath['name'], StormRound[]> = { proxy: [], enforce: [], shadow: [] };
    for (let r = 0; r < o.rounds; r++) {
      // Rotated each round, so that load from elsewhere on the shared cores lands on all alike.
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(r + i) % paths.length] as StormPath;
        runs[path.name].push(await stormRound(path, o));
      }
    }
    const summary = (rounds: readonly StormRound[]) => ({
      cpuUsPerRefusedCall: round2(median(rounds.map((x) => x.cpuUsPerRefusedCall))),
      rps: round2(median(rounds.map((x) => x.rps))),
      refused: rounds.reduce((n, x) => n + x.refused, 0),
      requests: rounds.reduce((n, x) => n + x.requests, 0),
      runs: rounds,
    });
    return {
      method:
        "every answer a 529; CPU per refused call = the server process's own user+system time " +
        '(/proc/<pid>/stat) over a round / the calls it refused in that round; median over ' +
        'rounds, paths rotated each round',
      concurrency: o.concurrency,
      roundMs: o.roundMs,
      rounds: o.rounds,
      proxy: summary(runs.proxy),
      enforce: summary(runs.enforce),
      shadow: summary(runs.shadow),
    };
  } finally {
    await o.sim.clearFaults();
    await Promise.all([enforce.stop(), shadow.stop()]);
  }
}

export function stormLine(storm: Awaited<ReturnType<typeof overloadStorm>>): string {
  return (
    `runtime 529 storm: cpu_us_per_refused_call enforce=${storm.enforce.cpuUsPerRefusedCall.toFixed(1)} ` +
    `shadow=${storm.shadow.cpuUsPerRefusedCall.toFixed(1)} (bare proxy ${storm.proxy.cpuUsPerRefusedCall.toFixed(1)}; ` +
    `refused ${storm.enforce.refused}/${storm.enforce.requests}, ${storm.shadow.refused}/${storm.shadow.requests})\n`
  );
}

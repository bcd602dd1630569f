/**
 * What RedisServer `acknowledge: Replicas` costs a budgeted call (`bench/runtime.ts --only
 * acknowledge`; decision 0062): every admission and settlement waits for WAIT 1 on the same
 * connection, one more round trip to a replica.
 *
 * - A redis-server and one replica of it; three runtime processes on the bench's simulator with
 *   the same policy (rate limits and a USD budget per agent in Redis, never exhausted), each
 *   under keys of its own: `primary`, `primary-again` (identical: the baseline's own spread)
 *   and `replicas` (the same, acknowledge Replicas).
 * - The bench's closed-loop generator drives each in turn, interleaved rounds (each path takes
 *   each place in the order in turn), on the request mix. Per round and path: the runtime's CPU
 *   time per call (schedstat, all threads) and the p50 latency.
 * - The figures are the medians of the per-round ratios replicas / primary (CPU) and of the
 *   per-round p50 differences; the spread is primary-again / primary in the same rounds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis } from '../../test/support/redisServer.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median } from '../../tools/stats/samples.ts';
import { deciding } from '../global/budgetScenario.ts';
import { closedLoop } from './closedLoopLoad.ts';
import {
  measureRound,
  storeDocument,
  type StoreBenchOptions,
  type StoreRound,
} from './storeRounds.ts';

const NAMES = ['primary', 'primary-again', 'replicas'] as const;
type Name = (typeof NAMES)[number];

export type AcknowledgeComparisonOptions = StoreBenchOptions;

interface Path {
  readonly name: Name;
  readonly runtime: RuntimeHandle;
  readonly pid: number;
  readonly port: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export async function acknowledgeComparison(options: AcknowledgeComparisonOptions) {
  const redis = await startRedis();
  const replica = await startRedis({ replicaOf: redis.address });
  const started: RuntimeHandle[] = [];
  try {
    const paths: Path[] = [];
    for (const name of NAMES) {
      const file = join(options.dir, `acknowledge-${name}.json`);
      const redisSpec = {
        address: redis.address,
        ...(name === 'replicas' ? { acknowledge: 'Replicas' as const } : {}),
      };
      writeFileSync(file, JSON.stringify(storeDocument(options.policy, redisSpec, name)));
      const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], options.env);
      started.push(runtime);
      await deciding(runtime);
      paths.push({
        name,
        runtime,
        pid: runtime.child.pid ?? 0,
        port: Number(new URL(runtime.url).port),
      });
    }
    const requests = new Map(paths.map((p) => [p.name, options.requests(p.port)]));
    for (const path of paths)
      await closedLoop({
        port: path.port,
        requests: requests.get(path.name) ?? [],
        concurrency: options.concurrency,
        durationMs: options.warmupMs,
      });
    const rounds = new Map<Name, StoreRound[]>(NAMES.map((n) => [n, []]));
    for (let r = 0; r < options.rounds; r++)
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(r + i) % paths.length] as Path;
        rounds
          .get(path.name)
          ?.push(await measureRound({ ...path, requests: requests.get(path.name) ?? [] }, options));
      }
    const of = (name: Name) => rounds.get(name) ?? [];
    const base = of('primary');
    const cpuRatios = (name: Name) =>
      of(name).map((x, i) => x.cpuUsPerCall / (base[i]?.cpuUsPerCall ?? x.cpuUsPerCall));
    const p50Added = (name: Name) => of(name).map((x, i) => x.p50Ms - (base[i]?.p50Ms ?? x.p50Ms));
    const summary = (name: Name) => ({
      cpuUsPerCall: round3(median(of(name).map((x) => x.cpuUsPerCall))),
      p50Ms: round3(median(of(name).map((x) => x.p50Ms))),
      calls: of(name).reduce((n, x) => n + x.calls, 0),
      errors: of(name).reduce((n, x) => n + x.errors, 0),
    });
    return {
      method:
        'a redis-server with one replica; three runtime processes on one simulator, rate limits ' +
        'and a never-exhausted USD budget in Redis, each under its own keys: primary, ' +
        'primary-again (identical) and replicas (acknowledge Replicas); closed loop at one ' +
        'concurrency, interleaved rounds with each path first in turn; cpuRatio is the median ' +
        'of per-round replicas/primary CPU time per call (schedstat, all threads), p50AddedMs ' +
        'the median of per-round p50 differences, the spread that of primary-again/primary',
      concurrency: options.concurrency,
      rounds: options.rounds,
      roundMs: options.roundMs,
      primary: summary('primary'),
      primaryAgain: summary('primary-again'),
      replicas: summary('replicas'),
      cpuRatios: cpuRatios('replicas').map(round3),
      cpuRatio: round3(median(cpuRatios('replicas'))),
      spreadRatios: cpuRatios('primary-again').map(round3),
      p50AddedMs: round3(median(p50Added('replicas'))),
      p50SpreadMs: round3(median(p50Added('primary-again'))),
    };
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await replica.remove();
    await redis.remove();
  }
}

export function acknowledgeComparisonLine(
  result: Awaited<ReturnType<typeof acknowledgeComparison>>,
): string {
  return `runtime acknowledge Replicas vs Primary: cpu_ratio=${result.cpuRatio.toFixed(3)} spread=${Math.min(...result.spreadRatios).toFixed(3)}..${Math.max(...result.spreadRatios).toFixed(3)} p50_added_ms=${result.p50AddedMs.toFixed(3)} (A/A ${result.p50SpreadMs.toFixed(3)}) cpu_us_per_call=${result.primary.cpuUsPerCall.toFixed(1)}→${result.replicas.cpuUsPerCall.toFixed(1)} p50_ms=${result.primary.p50Ms.toFixed(3)}→${result.replicas.p50Ms.toFixed(3)} (${String(result.rounds)} rounds, concurrency ${String(result.concurrency)})\n`;
}

/**
 * What each store shape and `acknowledge` setting costs a call (`bench/runtime.ts --only
 * stores`, and part of the default run; issue 51): CPU time per call of the runtime process,
 * added p50 and p99 latency over the simulator itself, and throughput, each against a
 * standalone redis-server under `acknowledge: Primary`.
 *
 * - The topologies, on real processes from test/support: a redis-server with one replica
 *   (redisServer.ts), a Sentinel set of a primary, two replicas and three sentinels
 *   (redisSentinel.ts), a six-node Redis Cluster (redisCluster.ts).
 * - One runtime process per shape on the bench's simulator, with the same policy (rate limits
 *   and a never-exhausted USD budget per agent in the store, so every call is admitted and
 *   settled there), under keys of its own: standalone Primary, standalone Primary again
 *   (identical: the baseline's own spread), standalone Replicas, Sentinel Primary, Sentinel
 *   Replicas, Cluster Primary, Cluster Replicas (a WAIT per batch on each slot's primary). The
 *   simulator alone is a path too: the latency a runtime adds is its p50 minus the
 *   simulator's in the same round.
 * - The bench's closed-loop generator drives each path in turn, in interleaved rounds (each
 *   path takes each place in the order in turn). Every figure is the median over rounds of the
 *   per-round ratio shape / standalone Primary, with the rounds' min and max; the A/A row is
 *   the run-to-run spread a figure is read against.
 * - Afterwards every runtime must still decide on its store and have decided at least every
 *   measured call there (/debug/ratelimiter's sharedDecisions).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisCluster } from '../../test/support/redisCluster.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { ask, startSentinelSet } from '../../test/support/redisSentinel.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median } from '../../tools/stats/samples.ts';
import { deciding } from '../global/budgetScenario.ts';
import { closedLoop } from './closedLoopLoad.ts';
import {
  measureRound,
  storeDocument,
  type RedisStoreSpec,
  type StoreBenchOptions,
  type StoreRound,
} from './storeRounds.ts';

const SHAPES = [
  'standalone-primary',
  'standalone-primary-again',
  'standalone-replicas',
  'sentinel-primary',
  'sentinel-replicas',
  'cluster-primary',
  'cluster-replicas',
] as const;
type Shape = (typeof SHAPES)[number];
const BASE: Shape = 'standalone-primary';
const SIMULATOR = 'simulator';
type PathName = Shape | typeof SIMULATOR;

export interface StoreComparisonOptions extends StoreBenchOptions {
  /** The simulator the runtimes forward to, measured alone as a path of its own. */
  readonly simulator: { readonly pid: number; readonly port: number };
}

interface Path {
  readonly name: PathName;
  readonly runtime?: RuntimeHandle;
  readonly pid: number;
  readonly port: number;
  readonly requests: Buffer[];
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const spread = (xs: readonly number[]) => ({
  median: round3(median(xs)),
  min: round3(Math.min(...xs)),
  max: round3(Math.max(...xs)),
});

type Acknowledging = Partial<Record<Shape, () => Promise<string>>>;

/** WAITs a primary ran, from INFO commandstats (only its one Replicas shape sends them). */
interface PrimaryCommands {
  readonly waits: number;
}

const callsOf = (stats: string, command: string): number =>
  Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);

/** Zeroes the acknowledging primaries' command counts, so they count the rounds alone. */
async function resetCommandStats(acknowledging: Acknowledging): Promise<void> {
  for (const primary of Object.values(acknowledging))
    await ask(await primary(), ['CONFIG', 'RESETSTAT']);
}

async function waitCounts(
  acknowledging: Acknowledging,
): Promise<Partial<Record<Shape, PrimaryCommands>>> {
  const counts: Partial<Record<Shape, PrimaryCommands>> = {};
  for (const [shape, primary] of Object.entries(acknowledging) as [
    Shape,
    () => Promise<string>,
  ][]) {
    const stats = String(await ask(await primary(), ['INFO', 'commandstats']));
    counts[shape] = { waits: callsOf(stats, 'wait') };
  }
  return counts;
}

/**
 * How the acknowledging lane batched over the measured rounds: WAITs per call. Every script
 * is acknowledged and a budgeted call sends at least two (admission, settlement), so 2 or more
 * would be no batching at all.
 */
const perCall = (commands: PrimaryCommands, calls: number) => ({
  ...commands,
  waitsPerCall: round3(commands.waits / Math.max(1, calls)),
});

/** Starts the three topologies; `stores` names each shape's store, `remove` stops them all. */
async function topologies() {
  const removes: (() => Promise<void>)[] = [];
  const remove = async () => {
    await Promise.all(removes.map((r) => r()));
  };
  try {
    const primary = await startRedis();
    removes.push(() => primary.remove());
    const replica = await startRedis({ replicaOf: primary.address });
    removes.push(() => replica.remove());
    const set = await startSentinelSet();
    removes.push(() => set.remove());
    const cluster = await startRedisCluster();
    removes.push(() => cluster.remove());
    const sentinel = { masterName: set.masterName, addresses: [...set.sentinels] };
    const stores: Record<Shape, RedisStoreSpec> = {
      'standalone-primary': { address: primary.address },
      'standalone-primary-again': { address: primary.address },
      'standalone-replicas': { address: primary.address, acknowledge: 'Replicas' },
      'sentinel-primary': { sentinel },
      'sentinel-replicas': { sentinel, acknowledge: 'Replicas' },
      'cluster-primary': { cluster: { addresses: [...cluster.addresses] } },
      'cluster-replicas': {
        cluster: { addresses: [...cluster.addresses] },
        acknowledge: 'Replicas',
      },
    };
    // The servers each Replicas shape WAITs on, none shared with another Replicas shape.
    const acknowledging: Partial<Record<Shape, () => Promise<string>>> = {
      'standalone-replicas': () => Promise.resolve(primary.address),
      'sentinel-replicas': () => set.currentPrimary(),
    };
    return { stores, acknowledging, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

interface LimiterView {
  readonly rateLimiter: {
    readonly counters: { readonly sharedDecisions: number };
    readonly store?: { readonly report: { readonly state: string } };
  };
}

export async function storeComparison(options: StoreComparisonOptions) {
  const { stores, acknowledging, remove } = await topologies();
  const started: RuntimeHandle[] = [];
  try {
    const paths: Path[] = [];
    for (const name of SHAPES) {
      const file = join(options.dir, `store-${name}.json`);
      writeFileSync(file, JSON.stringify(storeDocument(options.policy, stores[name], name)));
      const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], options.env);
      started.push(runtime);
      await deciding(runtime);
      const port = Number(new URL(runtime.url).port);
      paths.push({
        name,
        runtime,
        pid: runtime.child.pid ?? 0,
        port,
        requests: options.requests(port),
      });
    }
    paths.push({
      name: SIMULATOR,
      ...options.simulator,
      requests: options.requests(options.simulator.port),
    });
    for (const path of paths)
      await closedLoop({
        port: path.port,
        requests: path.requests,
        concurrency: options.concurrency,
        durationMs: options.warmupMs,
      });
    await resetCommandStats(acknowledging);
    const rounds = new Map<PathName, StoreRound[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < options.rounds; r++)
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(r + i) % paths.length] as Path;
        rounds.get(path.name)?.push(await measureRound(path, options));
      }
    const of = (name: PathName) => rounds.get(name) ?? [];
    const measured = (name: PathName) => of(name).reduce((n, x) => n + x.calls, 0);
    for (const path of paths) {
      if (path.runtime === undefined) continue;
      const view = (await path.runtime.debug('/debug/ratelimiter')) as LimiterView;
      const decided = view.rateLimiter.counters.sharedDecisions;
      if (view.rateLimiter.store?.report.state !== 'Shared' || decided < measured(path.name))
        throw new Error(
          `${path.name} did not decide every call on its store: ${String(decided)} decided there of ${String(measured(path.name))} measured, state ${String(view.rateLimiter.store?.report.state)}`,
        );
    }
    const waits = await waitCounts(acknowledging);
    const sim = of(SIMULATOR);
    const base = of(BASE);
    const perRound = (name: Shape, figure: (x: StoreRound, i: number) => number) =>
      of(name).map((x, i) => figure(x, i));
    const added = (x: StoreRound, i: number, p: 'p50Ms' | 'p99Ms') => x[p] - (sim[i]?.[p] ?? 0);
    const shape = (name: Shape) => {
      const ratio = (figure: (x: StoreRound, i: number) => number) =>
        spread(
          perRound(name, (x, i) => figure(x, i) / figure(base[i] ?? x, i)).filter((v) =>
            Number.isFinite(v),
          ),
        );
      return {
        cpuUsPerCall: spread(perRound(name, (x) => x.cpuUsPerCall)),
        addedP50Ms: spread(perRound(name, (x, i) => added(x, i, 'p50Ms'))),
        addedP99Ms: spread(perRound(name, (x, i) => added(x, i, 'p99Ms'))),
        rps: spread(perRound(name, (x) => x.rps)),
        calls: measured(name),
        ...(waits[name] === undefined
          ? {}
          : { acknowledging: perCall(waits[name], measured(name)) }),
        errors: of(name).reduce((n, x) => n + x.errors, 0),
        vsStandalonePrimary: {
          cpu: ratio((x) => x.cpuUsPerCall),
          addedP50: ratio((x, i) => added(x, i, 'p50Ms')),
          addedP99: ratio((x, i) => added(x, i, 'p99Ms')),
          throughput: ratio((x) => x.rps),
        },
        runs: of(name).map((x) => ({
          cpuUsPerCall: round3(x.cpuUsPerCall),
          p50Ms: round3(x.p50Ms),
          p99Ms: round3(x.p99Ms),
          rps: round3(x.rps),
        })),
      };
    };
    return {
      method:
        'one runtime process per store shape on one simulator, rate limits and a never-exhausted ' +
        'USD budget per agent in the store, each under its own keys; standalone is a ' +
        'redis-server with one replica, Sentinel a primary with two replicas and three ' +
        'sentinels, Cluster six nodes (three primaries with a replica each), all on this ' +
        'machine; closed loop at one concurrency, interleaved rounds with each path (the ' +
        'simulator alone among them) first in turn; added latency is the p50/p99 minus the ' +
        "simulator's in the same round; vsStandalonePrimary holds the median, min and max " +
        'over rounds of the per-round ratio; standalone-primary-again is identical to the ' +
        'baseline: its ratios are the spread',
      concurrency: options.concurrency,
      rounds: options.rounds,
      roundMs: options.roundMs,
      simulator: {
        p50Ms: spread(sim.map((x) => x.p50Ms)),
        p99Ms: spread(sim.map((x) => x.p99Ms)),
        rps: spread(sim.map((x) => x.rps)),
      },
      shapes: Object.fromEntries(SHAPES.map((name) => [name, shape(name)])) as Record<
        Shape,
        ReturnType<typeof shape>
      >,
    };
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await remove();
  }
}

const range = (s: { median: number; min: number; max: number }, digits: number) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}..${s.max.toFixed(digits)})`;

/** One line per shape: each figure's median ratio to standalone Primary and its spread. */
export function storeComparisonLines(result: Awaited<ReturnType<typeof storeComparison>>): string {
  return SHAPES.map((name) => {
    const s = result.shapes[name];
    const v = s.vsStandalonePrimary;
    return `runtime store ${name}: cpu_us_per_call=${s.cpuUsPerCall.median.toFixed(0)} added_p50_ms=${s.addedP50Ms.median.toFixed(3)} added_p99_ms=${s.addedP99Ms.median.toFixed(3)} rps=${s.rps.median.toFixed(0)}; vs standalone Primary: cpu=${range(v.cpu, 3)} added_p50=${range(v.addedP50, 3)} added_p99=${range(v.addedP99, 3)} throughput=${range(v.throughput, 3)}${'acknowledging' in s && s.acknowledging !== undefined ? ` waits_per_call=${s.acknowledging.waitsPerCall.toFixed(3)}` : ''}${s.errors > 0 ? ` errors=${String(s.errors)}` : ''}\n`;
  }).join('');
}

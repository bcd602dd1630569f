/**
 * `make bench-guard` (node --expose-gc bench/guard.ts): the cost of the guard's closed path
 * against a bare `await` and against cockatiel and opossum, in one process and one run.
 *
 * Every case awaits the same already-resolved call. Rounds are short and interleaved (every
 * case runs back to back in each round, the order rotating) so that load from other
 * processes lands on every case alike; each case reports the median over rounds, and each
 * ratio is the median over rounds of that round's ratio. Bytes per call are heap growth over a batch during which
 * no GC ran (checked with v8.GCProfiler); idle-breaker bytes are heap growth per breaker over
 * 10 000 breakers kept alive. Writes bench/results/guard.json and ends with the line
 *
 *   guard: ours/cockatiel=R1 ours/opossum=R2 ours_timeout/cockatiel_timeout=R3 idle_breaker_bytes=N
 */
import { anthropicClassifier } from '../runtime/src/provider/anthropic/errorClassification.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  handleAll,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import Opossum from 'opossum';
import { Registry } from 'prom-client';
import { Bulkhead } from '../runtime/src/guard/bulkhead.ts';
import { DEFAULT_BREAKER_SETTINGS } from '../runtime/src/guard/breakerOptions.ts';
import { CircuitBreaker } from '../runtime/src/guard/circuitBreaker.ts';
import { Guard } from '../runtime/src/guard/guard.ts';
import type { GuardConfig } from '../runtime/src/guard/guardConfig.ts';
import type { GuardAttempt } from '../runtime/src/guard/guardAttempt.ts';
import { GuardMetrics } from '../runtime/src/guard/metrics.ts';
import { RateLimiter } from '../runtime/src/guard/rateLimiter.ts';
import { concurrencySettings, limiterSettings } from '../runtime/src/guard/settingsFixture.ts';
import { systemClock } from '../platform/src/time/clock.ts';
import { median, percentile } from '../tools/stats/samples.ts';

const CALLS_PER_ROUND = 2_000;
const ROUNDS = 101;
const WARMUP_CALLS = 30_000;
const ALLOC_BATCH = 2_000;
const ALLOC_BATCHES = 9;
const IDLE_BREAKERS = 10_000;
const TIMEOUT_MS = 30_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc: node --expose-gc bench/guard.ts');
  process.exit(2);
}
const collect = (): void => {
  gc();
  gc();
};

/** The guarded work: an already-resolved call, so only the wrapping is measured. */
const work = (): Promise<number> => Promise.resolve(1);
const workWithSignal = (a: GuardAttempt): Promise<number> =>
  a.signal.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve(1);

function ourGuard(registry: Registry, name: string, extra: Partial<GuardConfig> = {}): Guard {
  const clock = systemClock;
  const breaker = new CircuitBreaker({ name: `${name}/model`, clock });
  const limiter = new RateLimiter({
    name,
    clock,
    options: limiterSettings({ requests: { perSecond: 1e6, burst: 1e7 } }),
  });
  const bulkhead = new Bulkhead({
    name,
    clock,
    options: concurrencySettings({ maxConcurrent: 100, maxQueue: 0 }),
  });
  const guard = new Guard({
    name,
    clock,
    classifier: anthropicClassifier,
    target: { name: `${name}/model`, breaker },
    limiter,
    bulkhead,
    ...extra,
  });
  const metrics = new GuardMetrics(registry);
  metrics.bindBreaker(breaker);
  metrics.bindLimiter(limiter);
  metrics.bindBulkhead(bulkhead);
  metrics.bindGuard(guard);
  return guard;
}

function cockatielPolicy(withTimeout: boolean) {
  const breaker = cockatielBreaker(handleAll, {
    halfOpenAfter: 60_000,
    breaker: new ConsecutiveBreaker(5),
  });
  const bulkhead = cockatielBulkhead(100, 0);
  return withTimeout
    ? wrap(cockatielTimeout(TIMEOUT_MS, TimeoutStrategy.Aggressive), bulkhead, breaker)
    : wrap(bulkhead, breaker);
}

interface Case {
  readonly name: string;
  readonly description: string;
  readonly call: () => Promise<unknown>;
}

const registries = [new Registry(), new Registry(), new Registry(), new Registry()] as const;
const ours = ourGuard(registries[0], 'ours');
const oursTimeout = ourGuard(registries[1], 'ours_timeout', { timeout: { timeoutMs: TIMEOUT_MS } });
const oursTimeoutSignal = ourGuard(registries[2], 'ours_timeout_signal', {
  timeout: { timeoutMs: TIMEOUT_MS },
});
const oursTokens = ourGuard(registries[3], 'ours_tokens');
const cockatiel = cockatielPolicy(false);
const cockatielWithTimeout = cockatielPolicy(true);
const opossum = new Opossum(work);
const estimate = { inputTokens: 200, outputTokens: 512 };

const CASES: readonly Case[] = [
  { name: 'bare', description: 'await call()', call: () => work() },
  {
    name: 'ours',
    description: 'Guard: rate limiter + bulkhead + breaker + metrics bound',
    call: () => ours.execute(work),
  },
  {
    name: 'ours_timeout',
    description: 'Guard as above + 30 s timeout (deadline list, aggressive)',
    call: () => oursTimeout.execute(work),
  },
  {
    name: 'ours_timeout_signal',
    description: 'Guard with timeout, the call reads attempt.signal (lazy AbortController)',
    call: () => oursTimeoutSignal.execute(workWithSignal),
  },
  {
    name: 'ours_tokens',
    description: 'Guard: as "ours" + a token estimate passed per call',
    call: () => oursTokens.execute(work, { estimate }),
  },
  {
    name: 'cockatiel',
    description: 'cockatiel wrap(bulkhead(100, 0), circuitBreaker(ConsecutiveBreaker(5)))',
    call: () => cockatiel.execute(work),
  },
  {
    name: 'cockatiel_timeout',
    description: 'cockatiel wrap(timeout(30 s, Aggressive), bulkhead, breaker)',
    call: () => cockatielWithTimeout.execute(work),
  },
  {
    name: 'opossum',
    description: 'opossum new CircuitBreaker(call) with defaults',
    call: () => opossum.fire(),
  },
  {
    name: 'abort_signal_timeout',
    description: 'AbortSignal.timeout(30 s) per call around the bare call',
    call: () => {
      void AbortSignal.timeout(TIMEOUT_MS);
      return work();
    },
  },
  {
    name: 'abort_controller_set_timeout',
    description: 'new AbortController + setTimeout/clearTimeout per call around the bare call',
    call: async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => {
        controller.abort();
      }, TIMEOUT_MS);
      try {
        return await work();
      } finally {
        clearTimeout(timer);
      }
    },
  },
];

async function runCalls(call: () => Promise<unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await call();
}

async function timeRounds(): Promise<Map<string, number[]>> {
  for (const c of CASES) await runCalls(c.call, WARMUP_CALLS);
  const perCase = new Map<string, number[]>(CASES.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < CASES.length; k++) {
      const c = CASES[(round + k) % CASES.length] as Case;
      const start = process.hrtime.bigint();
      await runCalls(c.call, CALLS_PER_ROUND);
      const ns = Number(process.hrtime.bigint() - start) / CALLS_PER_ROUND;
      perCase.get(c.name)?.push(ns);
    }
  }
  return perCase;
}

/** Heap growth per call over batches during which no GC ran; median over batches. */
async function bytesPerCall(call: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  let batch = ALLOC_BATCH;
  for (let attempt = 0; samples.length < ALLOC_BATCHES && attempt < ALLOC_BATCHES * 4; attempt++) {
    collect();
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = v8.getHeapStatistics().used_heap_size;
    await runCalls(call, batch);
    const after = v8.getHeapStatistics().used_heap_size;
    const gcs = profiler.stop().statistics.length;
    if (gcs === 0) samples.push((after - before) / batch);
    else batch = Math.max(100, batch >> 1);
  }
  return samples.length === 0 ? Number.NaN : median(samples);
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

/** Heap and timers per breaker over IDLE_BREAKERS breakers kept alive. */
function idleFootprint(make: (name: string) => unknown, dispose?: (b: unknown) => void) {
  const names = Array.from({ length: IDLE_BREAKERS }, (_, i) => `backend-${i}/claude-model`);
  const kept = new Array<unknown>(IDLE_BREAKERS).fill(null);
  collect();
  const timersBefore = activeTimers();
  const before = v8.getHeapStatistics().used_heap_size;
  for (let i = 0; i < IDLE_BREAKERS; i++) kept[i] = make(names[i] as string);
  collect();
  const after = v8.getHeapStatistics().used_heap_size;
  const timers = activeTimers() - timersBefore;
  if (dispose) for (const b of kept) dispose(b);
  return {
    bytesPerBreaker: Math.round((after - before) / IDLE_BREAKERS),
    timersPerBreaker: timers / IDLE_BREAKERS,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

async function main(): Promise<void> {
  const started = Date.now();
  const timings = await timeRounds();
  const bytes = new Map<string, number>();
  for (const c of CASES) bytes.set(c.name, await bytesPerCall(c.call));

  const ns = (name: string) => median(timings.get(name) ?? []);
  const pairedRatio = (a: string, b: string) => {
    const x = timings.get(a) ?? [];
    const y = timings.get(b) ?? [];
    return median(x.map((v, i) => v / (y[i] as number)));
  };

  const idle = {
    ours: idleFootprint((name) => new CircuitBreaker({ name, clock: systemClock })),
    ours_with_rate_windows: idleFootprint(
      (name) =>
        new CircuitBreaker({
          name,
          clock: systemClock,
          options: {
            ...DEFAULT_BREAKER_SETTINGS,
            failureRate: {
              thresholdPercent: 50,
              minimumCalls: 10,
              window: { type: 'Count', size: 100 },
            },
            slowCall: { durationMs: 30_000, thresholdPercent: 50 },
          },
        }),
    ),
    cockatiel: idleFootprint(() =>
      cockatielBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) }),
    ),
    opossum: idleFootprint(
      () => new Opossum(work),
      (b) => {
        (b as Opossum).shutdown();
      },
    ),
  };

  // Paired: every round runs all cases back to back (a few ms), so each round's ratio is
  // taken under one load level; the median over rounds is the headline ratio.
  const scrape = await registries[0].metrics();
  const successLine = scrape
    .split('\n')
    .find((l) =>
      l.startsWith('circuit_breaker_requests_total{name="ours/model",outcome="success"}'),
    );
  const scraped = successLine === undefined ? null : Number(successLine.split(' ').pop());

  /** Per-round ratios' p25 and p75: the spread the headline's median sits in. */
  const pairedSpread = (ratios: number[]) => [percentile(ratios, 0.25), percentile(ratios, 0.75)];
  const perRound = (a: string, b: string, over = false) => {
    const x = timings.get(a) ?? [];
    const y = timings.get(b) ?? [];
    const bare = timings.get('bare') ?? [];
    return x.map((v, i) =>
      over
        ? (v - (bare[i] as number)) / ((y[i] as number) - (bare[i] as number))
        : v / (y[i] as number),
    );
  };
  // What issue 53's measure names: the guard's overhead over a bare await against cockatiel's,
  // each round's bare await subtracted from both.
  const overhead = perRound('ours', 'cockatiel', true);
  const r1 = pairedRatio('ours', 'cockatiel');
  const r2 = pairedRatio('ours', 'opossum');
  const r3 = pairedRatio('ours_timeout', 'cockatiel_timeout');
  const idleBytes = idle.ours.bytesPerBreaker;

  const cases = Object.fromEntries(
    CASES.map((c) => {
      const t = timings.get(c.name) ?? [];
      return [
        c.name,
        {
          description: c.description,
          medianNs: round2(ns(c.name)),
          minNs: round2(Math.min(...t)),
          p25Ns: round2(percentile(t, 0.25)),
          p75Ns: round2(percentile(t, 0.75)),
          overBareNs: round2(ns(c.name) - ns('bare')),
          bytesPerCall: round2(bytes.get(c.name) ?? Number.NaN),
        },
      ];
    }),
  );

  const result = {
    benchmark: 'guard closed path',
    command: 'node --expose-gc bench/guard.ts',
    node: process.version,
    v8: process.versions.v8,
    cpus: availableParallelism(),
    loadAverage: loadavg().map(round2),
    startedAt: new Date(started).toISOString(),
    durationSeconds: round2((Date.now() - started) / 1000),
    method: {
      roundsPerCase: ROUNDS,
      callsPerRound: CALLS_PER_ROUND,
      warmupCallsPerCase: WARMUP_CALLS,
      timing:
        'process.hrtime.bigint over sequential awaited calls; rounds interleaved, case order rotating; median over rounds',
      bytesPerCall: `v8 used_heap_size growth over ${ALLOC_BATCH}-call batches with no GC in between (v8.GCProfiler), median of ${ALLOC_BATCHES}`,
      idleBreaker: `heap growth per breaker over ${IDLE_BREAKERS} breakers kept alive, after gc()`,
    },
    cases,
    timeoutMechanism: {
      note: 'cost per call of each way to bound a call; ours = the guard with a timeout minus the guard without',
      abortSignalTimeoutNs: round2(ns('abort_signal_timeout') - ns('bare')),
      abortControllerSetTimeoutNs: round2(ns('abort_controller_set_timeout') - ns('bare')),
      oursDeadlineListNs: round2(ns('ours_timeout') - ns('ours')),
      oursDeadlineListWithSignalNs: round2(ns('ours_timeout_signal') - ns('ours')),
      abortSignalTimeoutBytes: round2(
        (bytes.get('abort_signal_timeout') ?? 0) - (bytes.get('bare') ?? 0),
      ),
      oursDeadlineListBytes: round2((bytes.get('ours_timeout') ?? 0) - (bytes.get('ours') ?? 0)),
    },
    idleBreaker: idle,
    ratios: {
      method:
        'median over rounds of the per-round ratio (the headline); also the ratio of the per-case medians and of the per-case minimums',
      'ours/cockatiel': round3(r1),
      'ours/opossum': round3(r2),
      'ours_timeout/cockatiel_timeout': round3(r3),
      spreadP25P75: {
        'ours/cockatiel': pairedSpread(perRound('ours', 'cockatiel')).map(round3),
      },
      overheadOverBare: {
        method: 'median over rounds of (ours − bare) / (cockatiel − bare), p25 and p75',
        'ours/cockatiel': round3(median(overhead)),
        spreadP25P75: pairedSpread(overhead).map(round3),
      },
      ofMedians: {
        'ours/cockatiel': round3(ns('ours') / ns('cockatiel')),
        'ours/opossum': round3(ns('ours') / ns('opossum')),
        'ours_timeout/cockatiel_timeout': round3(ns('ours_timeout') / ns('cockatiel_timeout')),
      },
      minimums: {
        'ours/cockatiel': round3(
          Math.min(...(timings.get('ours') ?? [])) / Math.min(...(timings.get('cockatiel') ?? [])),
        ),
        'ours/opossum': round3(
          Math.min(...(timings.get('ours') ?? [])) / Math.min(...(timings.get('opossum') ?? [])),
        ),
        'ours_timeout/cockatiel_timeout': round3(
          Math.min(...(timings.get('ours_timeout') ?? [])) /
            Math.min(...(timings.get('cockatiel_timeout') ?? [])),
        ),
      },
    },
    goals: {
      'ours/cockatiel': { goal: 0.5, value: round3(r1), met: r1 <= 0.5 },
      'ours/opossum': { goal: 0.25, value: round3(r2), met: r2 <= 0.25 },
      'ours_timeout/cockatiel_timeout': { goal: 0.2, value: round3(r3), met: r3 <= 0.2 },
      idle_breaker_bytes: { goal: 1024, value: idleBytes, met: idleBytes <= 1024 },
      idle_breaker_timers: {
        goal: 0,
        value: idle.ours.timersPerBreaker,
        met: idle.ours.timersPerBreaker === 0,
      },
    },
    counters: {
      ours: ours.counters(),
      oursBreaker: ours.target.breaker.counters(),
      // The metrics were bound through the whole run: one scrape shows they kept up.
      oursScrapedSuccesses: scraped,
    },
  };

  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'guard.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);

  const rows = CASES.map((c) => {
    const row = cases[c.name] as {
      medianNs: number;
      p25Ns: number;
      p75Ns: number;
      bytesPerCall: number;
    };
    return `${c.name.padEnd(30)} ${row.medianNs.toFixed(0).padStart(8)} ${`${row.p25Ns.toFixed(0)}–${row.p75Ns.toFixed(0)}`.padStart(14)} ${row.bytesPerCall.toFixed(0).padStart(10)}`;
  });
  console.log(
    `${'case'.padEnd(30)} ${'ns/call'.padStart(8)} ${'p25–p75'.padStart(14)} ${'bytes/call'.padStart(10)}`,
  );
  for (const row of rows) console.log(row);
  console.log('');
  console.log(`${'idle breaker'.padEnd(30)} ${'bytes'.padStart(8)} ${'timers'.padStart(14)}`);
  for (const [name, f] of Object.entries(idle)) {
    console.log(
      `${name.padEnd(30)} ${String(f.bytesPerBreaker).padStart(8)} ${String(f.timersPerBreaker).padStart(14)}`,
    );
  }
  console.log('');
  console.log(
    `timeout per call: AbortSignal.timeout ${result.timeoutMechanism.abortSignalTimeoutNs} ns, ` +
      `AbortController+setTimeout ${result.timeoutMechanism.abortControllerSetTimeoutNs} ns, ` +
      `ours (deadline list) ${result.timeoutMechanism.oursDeadlineListNs} ns`,
  );
  console.log(`wrote ${out}`);
  opossum.shutdown();
  console.log(
    `guard: ours/cockatiel=${r1.toFixed(3)} (p25–p75 ${pairedSpread(perRound('ours', 'cockatiel'))
      .map((x) => x.toFixed(3))
      .join('–')}; overhead over a bare await ${median(overhead).toFixed(3)}, ${pairedSpread(
      overhead,
    )
      .map((x) => x.toFixed(3))
      .join(
        '–',
      )}) ours/opossum=${r2.toFixed(3)} ours_timeout/cockatiel_timeout=${r3.toFixed(3)} idle_breaker_bytes=${idleBytes}`,
  );
}

await main();

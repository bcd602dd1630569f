/**
 * What GenAI telemetry costs a call (`bench/runtime.ts --only telemetry`; issue 52's measure:
 * at most 1.1 times the CPU time per call, or within the run-to-run spread).
 *
 * - A real OpenTelemetry Collector (test/support/otelCollector.ts: OTLP/HTTP in, a file out)
 *   and three runtime processes on the bench's simulator with the bench's policy: `off` and
 *   `off-again` (no OTLP endpoint: the no-op tracer, `/metrics` only; the second is the
 *   baseline's own spread) and `on` (OTEL_EXPORTER_OTLP_ENDPOINT at the Collector: every
 *   request's and attempt's span and the `gen_ai.*` metrics exported). The batch processor
 *   flushes every 500 ms and metrics every second, so each round pays for its exports.
 * - The bench's closed-loop generator drives each in turn at one concurrency, in interleaved
 *   rounds (each path takes each place in the order in turn), on the request mix. Per round and
 *   path: the runtime's CPU time per call (schedstat, all threads) and its p50 and p99.
 * - The figure is the median of the per-round ratios on / off; the spread is off-again / off in
 *   the same rounds. Met when the ratio is at most GOAL, or within the spread (at most the
 *   largest A/A ratio). The Collector is checked to have received the `on` runtime's spans.
 * - The Collector's own CPU time in each path's rounds, per call served: it shares the
 *   machine's cores with the runtime under test, and has work only in the `on` rounds.
 * - With `baselineEnv` (`--baseline-env='K=V …'`), a fourth runtime, `on-baseline`: `on` with
 *   those variables too (OTEL_EXPORTER_OTLP_PROTOCOL=http/json, say), in the same rounds, its
 *   ratio to `off` and its Collector CPU beside `on`'s, and `onBaselineOverOn` the median of the
 *   per-round ratios of the two; the figure stays `on`'s.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCollector } from '../../test/support/otelCollector.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { median } from '../../tools/stats/samples.ts';
import { closedLoop } from './closedLoopLoad.ts';
import { cpuUs } from './processProbe.ts';
import { measureRound, type StoreBenchOptions, type StoreRound } from './storeRounds.ts';

/** Issue 52: telemetry on may cost at most 10 % more CPU time per call. */
const GOAL = 1.1;
const NAMES = ['off', 'off-again', 'on', 'on-baseline'] as const;
type Name = (typeof NAMES)[number];
const SERVICE = 'breakwater-bench-telemetry';

export interface TelemetryComparisonOptions extends StoreBenchOptions {
  /** Variables for a fourth runtime, `on` with these too (`--baseline-env`). */
  readonly baselineEnv?: Readonly<Record<string, string>>;
}

interface Path {
  readonly name: Name;
  readonly runtime: RuntimeHandle;
  readonly pid: number;
  readonly port: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export async function telemetryComparison(options: TelemetryComparisonOptions) {
  const collector = await startCollector();
  const started: RuntimeHandle[] = [];
  try {
    const file = join(options.dir, 'telemetry-policy.json');
    writeFileSync(file, JSON.stringify(options.policy));
    const paths: Path[] = [];
    // In this order each exporting runtime's round is followed by one of a runtime that
    // exports nothing, so the Collector's work on a round's last batch (sent after it) is
    // counted in neither exporting runtime's rounds: the two are charged alike.
    const names: readonly Name[] =
      options.baselineEnv === undefined
        ? ['off', 'off-again', 'on']
        : ['off', 'on', 'off-again', 'on-baseline'];
    for (const name of names) {
      const on = {
        ...options.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_SERVICE_NAME: SERVICE,
        OTEL_BSP_SCHEDULE_DELAY: '500',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
      };
      const env: Record<string, string> =
        name === 'on'
          ? on
          : name === 'on-baseline'
            ? { ...on, ...options.baselineEnv }
            : { ...options.env };
      const runtime = await startRuntime(['--policy', file, '--log-level', 'warn'], env);
      started.push(runtime);
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
    const collectorUs = new Map<Name, number>(NAMES.map((n) => [n, 0]));
    for (let r = 0; r < options.rounds; r++)
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(r + i) % paths.length] as Path;
        const before = cpuUs(collector.pid);
        rounds
          .get(path.name)
          ?.push(await measureRound({ ...path, requests: requests.get(path.name) ?? [] }, options));
        collectorUs.set(
          path.name,
          (collectorUs.get(path.name) ?? 0) + cpuUs(collector.pid) - before,
        );
      }
    // The `on` runtime really exported: its spans are in what the Collector wrote.
    const exported = collector.spans().filter((s) => s.name.startsWith('chat ')).length;
    if (exported === 0)
      throw new Error('the Collector received no chat span from the `on` runtime');
    const of = (name: Name) => rounds.get(name) ?? [];
    const base = of('off');
    const cpuRatios = (name: Name) =>
      of(name).map((x, i) => x.cpuUsPerCall / (base[i]?.cpuUsPerCall ?? x.cpuUsPerCall));
    const callsOf = (name: Name) => of(name).reduce((n, x) => n + x.calls, 0);
    const summary = (name: Name) => ({
      cpuUsPerCall: round3(median(of(name).map((x) => x.cpuUsPerCall))),
      p50Ms: round3(median(of(name).map((x) => x.p50Ms))),
      p99Ms: round3(median(of(name).map((x) => x.p99Ms))),
      rps: round3(median(of(name).map((x) => x.rps))),
      calls: callsOf(name),
      errors: of(name).reduce((n, x) => n + x.errors, 0),
      collectorCpuUsPerCall: round3((collectorUs.get(name) ?? 0) / Math.max(1, callsOf(name))),
    });
    const cpuRatio = round3(median(cpuRatios('on')));
    const spreadRatios = cpuRatios('off-again').map(round3);
    const onBaseline =
      options.baselineEnv === undefined
        ? {}
        : {
            onBaseline: {
              env: options.baselineEnv,
              ...summary('on-baseline'),
              cpuRatios: cpuRatios('on-baseline').map(round3),
              cpuRatio: round3(median(cpuRatios('on-baseline'))),
            },
            onBaselineOverOn: round3(
              median(
                of('on-baseline').map(
                  (x, i) => x.cpuUsPerCall / (of('on')[i]?.cpuUsPerCall ?? x.cpuUsPerCall),
                ),
              ),
            ),
          };
    return {
      method:
        'a real OpenTelemetry Collector (OTLP/HTTP in, file out); three runtime processes on ' +
        'one simulator with the bench policy: off, off-again (identical: the spread) and on ' +
        '(OTLP to the Collector: request and attempt spans, gen_ai metrics; batch every 500 ms, ' +
        'metrics every 1 s); closed loop at one concurrency on the request mix, interleaved ' +
        'rounds with each path first in turn; cpuRatio is the median of per-round on/off CPU ' +
        'time per call (schedstat, all threads), the spread that of off-again/off; ' +
        "collectorCpuUsPerCall: the Collector's CPU time in that path's rounds per call served",
      goal: GOAL,
      concurrency: options.concurrency,
      rounds: options.rounds,
      roundMs: options.roundMs,
      off: summary('off'),
      offAgain: summary('off-again'),
      on: summary('on'),
      cpuRatios: cpuRatios('on').map(round3),
      cpuRatio,
      spreadRatios,
      met: cpuRatio <= GOAL || cpuRatio <= Math.max(...spreadRatios),
      chatSpansExported: exported,
      ...onBaseline,
    };
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await collector.stop();
  }
}

export function telemetryComparisonLine(
  result: Awaited<ReturnType<typeof telemetryComparison>>,
): string {
  const spread = `${Math.min(...result.spreadRatios).toFixed(3)}..${Math.max(...result.spreadRatios).toFixed(3)}`;
  const line = `runtime telemetry on vs off: cpu_ratio=${result.cpuRatio.toFixed(3)} spread=${spread} goal=${String(result.goal)} met=${String(result.met)} cpu_us_per_call=${result.off.cpuUsPerCall.toFixed(1)}→${result.on.cpuUsPerCall.toFixed(1)} collector_us_per_call=${result.on.collectorCpuUsPerCall.toFixed(1)} p50_ms=${result.off.p50Ms.toFixed(3)}→${result.on.p50Ms.toFixed(3)} (${String(result.rounds)} rounds, concurrency ${String(result.concurrency)})\n`;
  if (result.onBaseline === undefined) return line;
  const b = result.onBaseline;
  const env = Object.entries(b.env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${line}runtime telemetry on-baseline (${env}) vs off: cpu_ratio=${b.cpuRatio.toFixed(3)} cpu_us_per_call=${b.cpuUsPerCall.toFixed(1)} collector_us_per_call=${b.collectorCpuUsPerCall.toFixed(1)}; on-baseline/on=${result.onBaselineOverOn.toFixed(3)}\n`;
}

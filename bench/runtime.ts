/**
 * `make bench-runtime`: throughput and added latency of the runtime, full guard on, against a
 * bare node:http pass-through proxy to the same simulator, in the same run: first a mix of
 * plain and streamed calls, then streams only (throughput and added time to first byte).
 * Writes bench/results/runtime.json and ends with
 *
 *   runtime: throughput_ratio=R p50_added_ms=A p99_added_ms=B
 *   runtime streaming: throughput_ratio=R ttfb_p50_added_ms=T
 *
 * How it keeps the comparison fair:
 * - the runtime and the proxy are each their own process, forwarding to one simulator
 *   process, and both keep their upstream connections alive (checked: the sockets each
 *   holds to the simulator are listed after every round, and must be the same ones);
 * - one closed-loop generator (bench/runtime/closedLoopLoad.ts: raw keep-alive sockets,
 *   pre-encoded requests) drives both with the same concurrency and the same request mix;
 *   its CPU, the simulator's and the server's are measured in every round, per request;
 * - every answer of the mix is checked first to be the same through both paths;
 * - both are warmed up, then measured in short interleaved rounds (AB BA AB …) so that the
 *   load other processes put on the shared cores lands on both alike. Throughput ratio is
 *   the median of the per-pair ratios; latencies are medians over rounds of each round's
 *   percentile, and added latency is the runtime's minus the proxy's.
 *
 *   node --no-warnings=ExperimentalWarning bench/runtime.ts [--rounds 8] [--round-ms 2000]
 *        [--concurrency 8] [--warmup-ms 4000] [--cpu-prof DIR] [--no-write]
 *        [--only providers|storm|cache|durable|budgets|acknowledge|stores|telemetry|hotpath]
 *        [--label NAME]
 *        [--baseline DIR] [--baseline-node-args='FLAGS'] [--baseline-env='K=V …'] [--floor]
 *        [--perf-map] [--event-gap-ms N]
 *
 * `--only providers` runs the Bedrock comparison and the failover measure alone, prints their
 * lines and writes nothing: for working on the cloud path without the rest of the run.
 * `--only cache` runs the cache-affinity scenario alone (bench/runtime/cacheAffinity.ts) and
 * prints it. `--only durable` runs the durable-run scenario alone
 * (bench/runtime/durableComparison.ts) and writes bench/results/runtime-durable.json; with
 * `--baseline DIR` (another checkout, e.g. `git archive` of the commit before a change) its
 * runtime takes a turn in the same rounds, for before and after in one run.
 * `--only budgets` runs the budgets comparison alone (bench/runtime/budgetComparison.ts: CPU time
 * per call with a USD budget per agent and per client key on the Redis path, against the same
 * policy without them), prints its table and replaces the `budgets` section of runtime.json.
 * `--only acknowledge` runs the acknowledge comparison alone (bench/runtime/acknowledgeComparison.ts:
 * a budgeted call's CPU time and p50 under store.redis acknowledge Replicas against Primary, on
 * a primary with one replica) and writes bench/results/runtime-acknowledge.json.
 * `--only stores` runs the store-shape comparison alone (bench/runtime/storeComparison.ts: CPU
 * time, added p50/p99 and throughput of a budgeted call on a standalone Redis, Sentinel and
 * Cluster, under acknowledge Primary and Replicas, as ratios to standalone Primary) and writes
 * bench/results/runtime-stores.json; the default run ends with it too (about 3.5 minutes).
 * `--only telemetry` runs the telemetry comparison alone (bench/runtime/telemetryComparison.ts:
 * CPU time per call with OTLP export to a real Collector against none) and writes
 * bench/results/runtime-telemetry.json; `--baseline-env='K=V …'` adds a fourth runtime, the
 * exporting one with those variables too (another OTLP protocol, say), in the same rounds.
 * `--only hotpath` runs the CPU-per-call comparison alone (bench/runtime/hotPath.ts: plain calls
 * and streams apart, the runtime against the bare proxy, `--baseline DIR` for a before runtime in
 * the same rounds, `--baseline-node-args='--max-opt=1 …'` for one started with those Node flags
 * (this checkout's, or the baseline's), `--baseline-env='MALLOC_ARENA_MAX=2 …'` for one started
 * with those variables too, `--cpu-prof DIR` for a self-time table of each, `--floor` for the
 * parsing proxy (bench/runtime/parsingProxy.ts: the least any guarding proxy does) in the same
 * rounds, `--perf-map` for `/tmp/perf-PID.map` files that let `perf record -e cpu-clock -a -g`
 * name each process's JavaScript (on-CPU samples; the V8 profiler's are wall-clock ones), and
 * with BREAKWATER_TEST_RUNTIME_MAIN set, the baseline's bundle when it has one built) and
 * replaces the `hotPath` section of runtime.json (not when profiled). `--event-gap-ms N` has the
 * simulator send each stream as a provider does, one whole event a write with N ms (jittered)
 * before each (the default is every stream in one write): what a stream costs a chunk; such a
 * run does not write runtime.json.
 * `--only storm` runs the 529 storm alone (bench/runtime/overloadStorm.ts) and adds its run,
 * named by `--label`, to bench/results/runtime-storm.json: for before/after comparisons of
 * the error path.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import { RATE_LIMIT_POLICY_LIMITS as RATE } from '../contract/src/api/specLimits.ts';
import { samplePolicyDocument } from '../contract/src/policy/policyFixtures.ts';
import { startRuntime } from '../test/support/runtimeProcess.ts';
import { ONE_WRITE_STREAMS, startSimulator } from '../test/support/simulator.ts';
import { closedLoop, encodePost, exchange, type LoadRun } from './runtime/closedLoopLoad.ts';
import { cpuMs, ownCpuMs, upstreamSockets } from './runtime/processProbe.ts';
import { median, percentile } from '../tools/stats/samples.ts';
import { durableComparison } from './runtime/durableComparison.ts';
import { budgetComparison, budgetComparisonLines } from './runtime/budgetComparison.ts';
import {
  acknowledgeComparison,
  acknowledgeComparisonLine,
} from './runtime/acknowledgeComparison.ts';
import { storeComparison, storeComparisonLines } from './runtime/storeComparison.ts';
import { mcpComparison } from './runtime/mcpComparison.ts';
import { telemetryComparison, telemetryComparisonLine } from './runtime/telemetryComparison.ts';
import { overloadStorm, stormLine } from './runtime/overloadStorm.ts';
import { hotPath, hotPathLines } from './runtime/hotPath.ts';
import { cacheAffinityBench, cacheAffinityLine } from './runtime/cacheAffinity.ts';
import {
  BENCH_AWS,
  providerComparison,
  type ComparisonOptions,
} from './runtime/providerComparison.ts';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '8' },
    'round-ms': { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    'warmup-ms': { type: 'string', default: '4000' },
    'cpu-prof': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    only: { type: 'string' },
    label: { type: 'string' },
    baseline: { type: 'string' },
    'baseline-node-args': { type: 'string' },
    'baseline-env': { type: 'string' },
    floor: { type: 'boolean', default: false },
    'perf-map': { type: 'boolean', default: false },
    'event-gap-ms': { type: 'string' },
  },
});
const ONLY = [
  'providers',
  'storm',
  'cache',
  'durable',
  'budgets',
  'acknowledge',
  'stores',
  'telemetry',
  'hotpath',
];
if (flags.only !== undefined && !ONLY.includes(flags.only)) {
  throw new Error(`--only takes one of ${ONLY.join(', ')}, not "${flags.only}"`);
}
const ROUNDS = Number(flags.rounds);
const ROUND_MS = Number(flags['round-ms']);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP_MS = Number(flags['warmup-ms']);
const CLIENT_KEY = 'bench-client-key';

/** The request mix, sent in turn on every connection: three plain answers and one stream. */
const MIX: readonly { readonly name: string; readonly body: Record<string, unknown> }[] = [
  {
    name: 'short question',
    body: {
      model: PRIMARY_MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'What is a circuit breaker?' }],
    },
  },
  {
    name: 'conversation with a system prompt',
    body: {
      model: PRIMARY_MODEL,
      max_tokens: 256,
      system: 'You are a concise assistant for site reliability engineers. '.repeat(8),
      messages: [
        { role: 'user', content: 'Our checkout service times out when the payment API is slow.' },
        { role: 'assistant', content: 'Which timeouts are set on the client, and what retries?' },
        { role: 'user', content: 'A 30 s timeout, three retries with no backoff. '.repeat(6) },
      ],
    },
  },
  {
    name: 'tool call',
    body: {
      model: PRIMARY_MODEL,
      max_tokens: 128,
      tools: [
        {
          name: 'get_weather',
          description: 'Current weather for a city.',
          input_schema: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
          },
        },
      ],
      messages: [{ role: 'user', content: 'Please use tool get_weather for Lisbon.' }],
    },
  },
  {
    name: 'streamed answer',
    body: {
      model: PRIMARY_MODEL,
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'Stream me a short answer about bulkheads.' }],
    },
  },
];

/**
 * The streaming pass-through, measured apart: streams only, a short and a longer answer. The
 * runtime holds each stream until it ends (its outcome, bulkhead slot and token settlement
 * are decided there) and writes whole events; this run says what that costs.
 */
const STREAM_MIX: typeof MIX = [
  MIX[3] as (typeof MIX)[number],
  {
    name: 'longer streamed answer',
    body: {
      model: PRIMARY_MODEL,
      max_tokens: 512,
      stream: true,
      messages: [
        {
          role: 'user',
          content: 'Explain how a bulkhead and a circuit breaker work together. '.repeat(6),
        },
      ],
    },
  },
];

/** `K=V K=V` as an environment: `--baseline-env`. */
function assignments(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split(' ')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--baseline-env: "${pair}" is not NAME=VALUE`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}

function encodeMix(port: number, mix: typeof MIX = MIX): Buffer[] {
  return mix.map((m) =>
    encodePost('/v1/messages', port, { 'x-api-key': CLIENT_KEY }, JSON.stringify(m.body)),
  );
}

/** What an answer says, without its ids: equal through every path for the same request. */
function answerOf(body: string): unknown {
  const events = body.startsWith('event:')
    ? body
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5))
    : [body];
  return JSON.parse(`[${events.join(',')}]`, (key, value: unknown) =>
    key === 'id' ? undefined : value,
  ) as unknown;
}

function startProxy(target: number): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./runtime/passThroughProxy.ts', import.meta.url));
  const child = spawn(process.execPath, [script, '--target', String(target)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`proxy exited (${String(code)}) before listening`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const parsed = JSON.parse(line) as { port?: number };
      if (parsed.port !== undefined) resolve({ child, port: parsed.port });
    });
  });
}

interface Path {
  /** `baseline` and `runtime`; or, for the provider comparison, `anthropic` and `bedrock`. */
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  requests: Buffer[];
  previousSockets: readonly number[];
}

interface Round {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Time to the answer's first byte, median. */
  readonly ttfbP50: number;
  readonly requests: number;
  readonly errors: number;
  readonly reconnects: number;
  /** CPU per request, in microseconds, of each process; and each one's share of a core. */
  readonly cpuUsPerRequest: { generator: number; server: number; simulator: number };
  readonly coreShare: { generator: number; server: number; simulator: number };
  /** Upstream keep-alive: sockets the server holds to the simulator, and how many it kept. */
  readonly upstream: { open: number; keptFromLastRound: number; timeWaitAdded: number };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

async function measure(path: Path, simPid: number, simPort: number): Promise<Round> {
  const before = { gen: ownCpuMs(), server: cpuMs(path.pid), sim: cpuMs(simPid) };
  const timeWaitBefore = upstreamSockets(path.pid, simPort).timeWait;
  const run: LoadRun = await closedLoop({
    port: path.port,
    requests: path.requests,
    concurrency: CONCURRENCY,
    durationMs: ROUND_MS,
  });
  const after = { gen: ownCpuMs(), server: cpuMs(path.pid), sim: cpuMs(simPid) };
  const sockets = upstreamSockets(path.pid, simPort);
  const kept = sockets.ports.filter((p) => path.previousSockets.includes(p)).length;
  path.previousSockets = sockets.ports;
  const sorted = [...run.latenciesMs].sort((a, b) => a - b);
  const perRequest = (ms: number) => round2((ms * 1000) / Math.max(1, run.requests));
  const share = (ms: number) => round2(ms / 1000 / run.seconds);
  return {
    rps: round2(run.requests / run.seconds),
    p50: round2(percentile(sorted, 0.5)),
    p99: round2(percentile(sorted, 0.99)),
    ttfbP50: round2(
      percentile(
        [...run.firstByteMs].sort((a, b) => a - b),
        0.5,
      ),
    ),
    requests: run.requests,
    errors: run.errors,
    reconnects: run.reconnects,
    cpuUsPerRequest: {
      generator: perRequest(after.gen - before.gen),
      server: perRequest(after.server - before.server),
      simulator: perRequest(after.sim - before.sim),
    },
    coreShare: {
      generator: share(after.gen - before.gen),
      server: share(after.server - before.server),
      simulator: share(after.sim - before.sim),
    },
    upstream: {
      open: sockets.ports.length,
      keptFromLastRound: kept,
      timeWaitAdded: Math.max(0, sockets.timeWait - timeWaitBefore),
    },
  };
}

function summary(runs: readonly Round[]) {
  return {
    rps: round2(median(runs.map((r) => r.rps))),
    p50: round2(median(runs.map((r) => r.p50))),
    p99: round2(median(runs.map((r) => r.p99))),
    ttfbP50: round2(median(runs.map((r) => r.ttfbP50))),
    cpuUsPerRequest: {
      generator: round2(median(runs.map((r) => r.cpuUsPerRequest.generator))),
      server: round2(median(runs.map((r) => r.cpuUsPerRequest.server))),
      simulator: round2(median(runs.map((r) => r.cpuUsPerRequest.simulator))),
    },
    errors: runs.reduce((n, r) => n + r.errors, 0),
    reconnects: runs.reduce((n, r) => n + r.reconnects, 0),
  };
}

/** A failed run must not leave the simulator, proxy or runtime behind. */
function killOnExit(pid: number | undefined): void {
  process.once('exit', () => {
    try {
      if (pid !== undefined) process.kill(pid);
    } catch {
      // already gone
    }
  });
}

async function main(): Promise<void> {
  const loadBefore = loadavg().map(round2);
  if (flags.only === 'durable') {
    await recordDurable(loadBefore);
    return;
  }
  const sim = await startSimulator({
    seed: 1,
    ...ONE_WRITE_STREAMS,
    // A stream as a provider sends one, an event a write with a pause before each, instead.
    ...(flags['event-gap-ms'] === undefined
      ? {}
      : {
          firstTokenMs: Number(flags['event-gap-ms']),
          eventGapMs: Number(flags['event-gap-ms']),
        }),
    args: ['--aws-credentials', `${BENCH_AWS.accessKeyId}:${BENCH_AWS.secretAccessKey}`],
  });
  killOnExit(sim.pid);
  const simPid = sim.pid;
  const dir = mkdtempSync(join(tmpdir(), 'bw-bench-'));
  // Whichever part ran (--only returns early), its files go with the process.
  process.once('exit', () => {
    rmSync(dir, { recursive: true, force: true });
  });
  const policyFile = join(dir, 'policy.json');
  const doc = samplePolicyDocument();
  const policy = {
    ...doc,
    backends: [{ name: 'default', baseURL: sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 }],
    // Full guard on, with limits the bench stays inside (the schema's largest): it measures
    // overhead, not refusals.
    circuitBreaker: {
      ...doc.circuitBreaker,
      failureRate: {
        thresholdPercent: 50,
        minimumCalls: 20,
        window: { type: 'Count', size: 100 },
      },
      slowCall: { durationMs: 10_000, thresholdPercent: 80 },
    },
    rateLimit: {
      ...doc.rateLimit,
      requests: {
        replicaPerSecond: RATE['requests.perSecond'].maximum,
        replicaBurst: RATE['requests.burst'].maximum,
      },
      tokens: {
        replicaInputPerMinute: RATE['tokens.inputPerMinute'].maximum,
        replicaOutputPerMinute: RATE['tokens.outputPerMinute'].maximum,
      },
      concurrency: { replicaMaxConcurrent: 256, replicaMaxQueue: 256, queueTimeoutMs: 5_000 },
    },
    access: { clientKeysSecret: 'bench-keys' },
  } as const;
  writeFileSync(policyFile, JSON.stringify(policy));
  // --cpu-prof: every runtime this bench starts writes its profile there (one file per pid).
  const profiling: Record<string, string> =
    flags['cpu-prof'] === undefined
      ? {}
      : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${flags['cpu-prof']}` };
  const budgets = async () => ({
    when: new Date().toISOString(),
    loadAverage: { before: loadavg().map(round2) },
    ...(await budgetComparison({
      policy,
      dir,
      env: { ANTHROPIC_API_KEY: 'sk-bench', BREAKWATER_CLIENT_KEYS: CLIENT_KEY, ...profiling },
      requests: (port) => encodeMix(port),
      streams: (port) => encodeMix(port, STREAM_MIX),
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      concurrency: CONCURRENCY,
    })),
    loadAverageAfter: loadavg().map(round2),
  });
  // The store comparisons' runtimes: the request mix, no profiling.
  const storeBench = {
    policy,
    dir,
    env: { ANTHROPIC_API_KEY: 'sk-bench', BREAKWATER_CLIENT_KEYS: CLIENT_KEY },
    requests: (port: number) => encodeMix(port),
    rounds: ROUNDS,
    roundMs: ROUND_MS,
    warmupMs: WARMUP_MS,
    concurrency: CONCURRENCY,
  };
  const stores = async () => {
    const result = {
      when: new Date().toISOString(),
      loadAverage: { before: loadavg().map(round2) },
      cores: availableParallelism(),
      node: process.version,
      ...(await storeComparison({ ...storeBench, simulator: { pid: simPid, port: sim.port } })),
      loadAverageAfter: loadavg().map(round2),
    };
    if (!flags['no-write'])
      writeFileSync(
        new URL('./results/runtime-stores.json', import.meta.url),
        `${JSON.stringify(result, null, 2)}\n`,
      );
    return result;
  };
  if (flags.only === 'stores') {
    const result = await stores();
    await sim.stop();
    process.stdout.write(storeComparisonLines(result));
    return;
  }
  if (flags.only === 'acknowledge') {
    const result = {
      when: new Date().toISOString(),
      loadAverage: { before: loadavg().map(round2) },
      ...(await acknowledgeComparison(storeBench)),
      loadAverageAfter: loadavg().map(round2),
    };
    await sim.stop();
    if (!flags['no-write'])
      writeFileSync(
        new URL('./results/runtime-acknowledge.json', import.meta.url),
        `${JSON.stringify(result, null, 2)}\n`,
      );
    process.stdout.write(acknowledgeComparisonLine(result));
    return;
  }
  if (flags.only === 'telemetry') {
    const result = {
      when: new Date().toISOString(),
      loadAverage: { before: loadavg().map(round2) },
      ...(await telemetryComparison({
        ...storeBench,
        env: { ...storeBench.env, ...profiling },
        ...(flags['baseline-env'] === undefined
          ? {}
          : { baselineEnv: assignments(flags['baseline-env']) }),
      })),
      loadAverageAfter: loadavg().map(round2),
    };
    await sim.stop();
    if (!flags['no-write'])
      writeFileSync(
        new URL('./results/runtime-telemetry.json', import.meta.url),
        `${JSON.stringify(result, null, 2)}\n`,
      );
    process.stdout.write(telemetryComparisonLine(result));
    return;
  }
  if (flags.only === 'hotpath') {
    const result = {
      when: new Date().toISOString(),
      loadAverage: { before: loadavg().map(round2) },
      ...(await hotPath({
        ...storeBench,
        policyFile,
        simulatorPort: sim.port,
        mixes: [
          { name: 'plain', requests: (port) => encodeMix(port, MIX.slice(0, 3)) },
          { name: 'streams', requests: (port) => encodeMix(port, STREAM_MIX) },
        ],
        ...(flags.baseline === undefined ? {} : { baseline: flags.baseline }),
        ...(flags['baseline-node-args'] === undefined
          ? {}
          : { baselineNodeArgs: flags['baseline-node-args'].split(' ').filter(Boolean) }),
        ...(flags['baseline-env'] === undefined
          ? {}
          : { baselineEnv: assignments(flags['baseline-env']) }),
        ...(flags['cpu-prof'] === undefined ? {} : { profileDir: flags['cpu-prof'] }),
        floor: flags.floor,
        perfMap: flags['perf-map'],
      })),
      loadAverageAfter: loadavg().map(round2),
    };
    await sim.stop();
    if (
      !flags['no-write'] &&
      flags['cpu-prof'] === undefined &&
      flags['event-gap-ms'] === undefined
    ) {
      const file = new URL('./results/runtime.json', import.meta.url);
      const whole = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(file, `${JSON.stringify({ ...whole, hotPath: result }, null, 2)}\n`);
    }
    process.stdout.write(hotPathLines(result));
    return;
  }
  if (flags.only === 'budgets') {
    const result = await budgets();
    await sim.stop();
    if (!flags['no-write']) {
      const file = new URL('./results/runtime.json', import.meta.url);
      const whole = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(file, `${JSON.stringify({ ...whole, budgets: result }, null, 2)}\n`);
    }
    process.stdout.write(budgetComparisonLines(result));
    return;
  }
  const runtime = await startRuntime(['--policy', policyFile, '--log-level', 'warn'], {
    ANTHROPIC_API_KEY: 'sk-bench',
    BREAKWATER_CLIENT_KEYS: CLIENT_KEY,
    ...profiling,
  });
  killOnExit(runtime.child.pid);
  const proxy = await startProxy(sim.port);
  killOnExit(proxy.child.pid);
  const runtimePort = Number(new URL(runtime.url).port);
  const paths: [Path, Path] = [
    {
      name: 'baseline',
      port: proxy.port,
      pid: proxy.child.pid ?? 0,
      requests: encodeMix(proxy.port),
      previousSockets: [],
    },
    {
      name: 'runtime',
      port: runtimePort,
      pid: runtime.child.pid ?? 0,
      requests: encodeMix(runtimePort),
      previousSockets: [],
    },
  ];

  // Every request of both mixes gets the same answer directly, through the proxy and the runtime.
  for (const mix of [MIX, STREAM_MIX]) {
    for (const [i, m] of mix.entries()) {
      const direct = await exchange(sim.port, encodeMix(sim.port, mix)[i] as Buffer);
      for (const path of paths) {
        const got = await exchange(path.port, encodeMix(path.port, mix)[i] as Buffer);
        if (got.status !== 200 || !isDeepStrictEqual(answerOf(got.body), answerOf(direct.body))) {
          throw new Error(
            `${path.name} answers "${m.name}" differently: ${got.status} ${got.body}`,
          );
        }
      }
    }
  }

  const compare: ComparisonOptions['compare'] = async (first, second) => {
    const compared = await sideBySide(
      [
        { ...first, previousSockets: [] },
        { ...second, previousSockets: [] },
      ],
      simPid,
      sim.port,
    );
    return {
      ratio: median(compared.ratios),
      ratios: compared.ratios,
      first: summary(compared.runs[first.name] ?? []),
      second: summary(compared.runs[second.name] ?? []),
    };
  };
  const compareProviders = () =>
    providerComparison({
      sim,
      proxy: { port: proxy.port, pid: proxy.child.pid ?? 0 },
      streamBodies: STREAM_MIX.map((m) => m.body),
      policy,
      dir,
      env: { ANTHROPIC_API_KEY: 'sk-bench', BREAKWATER_CLIENT_KEYS: CLIENT_KEY, ...profiling },
      clientKey: CLIENT_KEY,
      streams: (port) => encodeMix(port, STREAM_MIX),
      compare,
    });
  const storm = () =>
    overloadStorm({
      sim,
      proxy: { port: proxy.port, pid: proxy.child.pid ?? 0 },
      policy,
      dir,
      env: { ANTHROPIC_API_KEY: 'sk-bench', BREAKWATER_CLIENT_KEYS: CLIENT_KEY },
      requests: (port) => encodeMix(port),
      rounds: ROUNDS,
      roundMs: ROUND_MS,
      warmupMs: WARMUP_MS,
      // Callers in a retry's backoff send nothing: more of them keep the shadow runtime busy.
      concurrency: CONCURRENCY * 4,
    });
  if (flags.only === 'storm') {
    const result = await storm();
    proxy.child.kill('SIGTERM');
    await runtime.stop();
    await sim.stop();
    recordStorm(result, loadBefore);
    process.stdout.write(stormLine(result));
    return;
  }
  const cache = () =>
    cacheAffinityBench({
      sim,
      policy,
      dir,
      env: { BREAKWATER_CLIENT_KEYS: CLIENT_KEY, ...profiling },
      clientKey: CLIENT_KEY,
      aws: BENCH_AWS,
      compare,
    });
  if (flags.only === 'cache') {
    const result = await cache();
    proxy.child.kill('SIGTERM');
    await runtime.stop();
    await sim.stop();
    process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
    process.stdout.write(cacheAffinityLine(result));
    return;
  }
  if (flags.only === 'providers') {
    const providers = await compareProviders();
    proxy.child.kill('SIGTERM');
    await runtime.stop();
    await sim.stop();
    process.stdout.write(`${JSON.stringify(providers, null, 1)}\n`);
    printProviders(providers);
    return;
  }

  // The simulator alone, so its capacity can be compared with the paths' throughput.
  const direct: Path = {
    name: 'baseline',
    port: sim.port,
    pid: simPid,
    requests: encodeMix(sim.port),
    previousSockets: [],
  };
  await measure(direct, simPid, sim.port);
  const simulatorAlone = await measure(direct, simPid, sim.port);

  const { runs, ratios } = await sideBySide(paths, simPid, sim.port);
  const stats = await runtime.debug('/debug/stats');
  for (const path of paths) path.requests = encodeMix(path.port, STREAM_MIX);
  const streams = await sideBySide(paths, simPid, sim.port);
  const providers = await compareProviders();
  const overload = await storm();
  const mcp = await mcpComparison({
    policy,
    dir,
    env: { ANTHROPIC_API_KEY: 'sk-bench', BREAKWATER_CLIENT_KEYS: CLIENT_KEY },
    clientKey: CLIENT_KEY,
    startProxy,
  });
  const cacheAffinity = await cache();
  const budgetCost = await budgets();
  proxy.child.kill('SIGTERM');
  await runtime.stop();
  const storeCost = await stores();
  await sim.stop();

  const baseline = summary(runs.baseline ?? []);
  const ours = summary(runs.runtime ?? []);
  const result = {
    when: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadavg().map(round2) },
    cores: availableParallelism(),
    node: process.version,
    method:
      'closed loop on raw keep-alive sockets; proxy and runtime each in their own process, ' +
      'forwarding to one simulator process; interleaved rounds AB BA …; throughputRatio is the ' +
      "median of per-pair ratios, p50/p99 are medians over rounds of each round's percentile",
    concurrency: CONCURRENCY,
    roundMs: ROUND_MS,
    rounds: ROUNDS,
    warmupMs: WARMUP_MS,
    requestMix: MIX.map((m) => m.name),
    simulatorAlone: {
      rps: simulatorAlone.rps,
      cpuUsPerRequest: {
        generator: simulatorAlone.cpuUsPerRequest.generator,
        simulator: simulatorAlone.cpuUsPerRequest.simulator,
      },
    },
    baseline: { ...baseline, runs: runs.baseline ?? [] },
    runtime: { ...ours, runs: runs.runtime ?? [], debugStats: stats },
    pairRatios: ratios.map(round2),
    throughputRatio: round2(median(ratios)),
    p50AddedMs: round2(ours.p50 - baseline.p50),
    p99AddedMs: round2(ours.p99 - baseline.p99),
    streaming: streamingResult(streams),
    providers,
    storm: overload,
    mcp,
    cacheAffinity,
    budgets: budgetCost,
  };
  if (!flags['no-write']) {
    mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    writeFileSync(
      new URL('./results/runtime.json', import.meta.url),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${JSON.stringify({ ...result, baseline, runtime: ours }, null, 1)}\n`);
  }
  process.stdout.write(
    `runtime: throughput_ratio=${result.throughputRatio.toFixed(2)} p50_added_ms=${result.p50AddedMs.toFixed(2)} p99_added_ms=${result.p99AddedMs.toFixed(2)}\n`,
  );
  process.stdout.write(
    `runtime streaming: throughput_ratio=${result.streaming.throughputRatio.toFixed(2)} ttfb_p50_added_ms=${result.streaming.ttfbP50AddedMs.toFixed(2)}\n`,
  );
  process.stdout.write(
    `runtime mcp: p50_added_ms=${mcp.p50AddedMs.toFixed(3)}, a bare proxy's ${mcp.proxyP50AddedMs.toFixed(3)} (direct ${mcp.directP50Ms} ms, through the proxy ${mcp.proxyP50Ms} ms, through /mcp ${mcp.guardedP50Ms} ms)\n`,
  );
  printProviders(providers);
  process.stdout.write(stormLine(overload));
  process.stdout.write(cacheAffinityLine(cacheAffinity));
  process.stdout.write(budgetComparisonLines(budgetCost));
  process.stdout.write(storeComparisonLines(storeCost));
}

/** Adds a `--only storm` run to bench/results/runtime-storm.json, named and dated. */
function recordStorm(result: Awaited<ReturnType<typeof overloadStorm>>, loadBefore: number[]) {
  const file = new URL('./results/runtime-storm.json', import.meta.url);
  const history = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { runs: unknown[] })
    : { runs: [] };
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  history.runs.push({
    label: flags.label ?? commit,
    commit,
    when: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadavg().map(round2) },
    node: process.version,
    ...result,
  });
  if (!flags['no-write']) writeFileSync(file, `${JSON.stringify(history, null, 2)}\n`);
}

function printProviders(providers: Awaited<ReturnType<typeof providerComparison>>): void {
  process.stdout.write(
    `runtime bedrock streaming: throughput_ratio=${providers.bedrockStreaming.throughputRatio.toFixed(2)} ttfb_p50_added_ms=${providers.bedrockStreaming.ttfbP50AddedMs.toFixed(2)} (vs the runtime on the Anthropic API: ${providers.bedrockVsAnthropic.throughputRatio.toFixed(2)})\n`,
  );
  process.stdout.write(
    `runtime failover: p50_added_ms=${providers.failover.p50AddedMs.toFixed(2)} (${providers.failover.failedOver} failed over of ${providers.failover.requests})\n`,
  );
}

/**
 * Warms both paths up, then measures them in interleaved rounds (AB BA AB …); each ratio is
 * the second path's throughput over the first's.
 */
async function sideBySide(paths: readonly [Path, Path], simPid: number, simPort: number) {
  for (const path of paths) {
    await closedLoop({
      port: path.port,
      requests: path.requests,
      concurrency: CONCURRENCY,
      durationMs: WARMUP_MS,
    });
  }
  const [first, second] = paths;
  const runs: Record<string, Round[]> = { [first.name]: [], [second.name]: [] };
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? paths : [second, first];
    const pair: Record<string, Round> = {};
    for (const path of order) {
      const result = await measure(path, simPid, simPort);
      runs[path.name]?.push(result);
      pair[path.name] = result;
    }
    ratios.push((pair[second.name]?.rps ?? 0) / (pair[first.name]?.rps ?? 1));
  }
  return { runs, ratios };
}

function streamingResult({ runs, ratios }: Awaited<ReturnType<typeof sideBySide>>) {
  const baseline = summary(runs.baseline ?? []);
  const ours = summary(runs.runtime ?? []);
  return {
    requestMix: STREAM_MIX.map((m) => m.name),
    baseline: { ...baseline, runs: runs.baseline ?? [] },
    runtime: { ...ours, runs: runs.runtime ?? [] },
    pairRatios: ratios.map(round2),
    throughputRatio: round2(median(ratios)),
    ttfbP50AddedMs: round2(ours.ttfbP50 - baseline.ttfbP50),
    p50AddedMs: round2(ours.p50 - baseline.p50),
  };
}

/** `--only durable`: the durable-run scenario, written to bench/results/runtime-durable.json. */
async function recordDurable(loadBefore: number[]): Promise<void> {
  const durable = await durableComparison(
    flags.baseline === undefined ? {} : { baseline: flags.baseline },
  );
  const result = {
    when: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadavg().map(round2) },
    cores: availableParallelism(),
    node: process.version,
    ...durable,
  };
  if (!flags['no-write'])
    writeFileSync(
      new URL('./results/runtime-durable.json', import.meta.url),
      `${JSON.stringify(result, null, 2)}\n`,
    );
  process.stdout.write(
    `runtime durable: model_added_p50_ms=${durable.modelCall.addedP50Ms.toFixed(3)} tool_added_p50_ms=${durable.toolCall.addedP50Ms.toFixed(3)} effect_tool_added_p50_ms=${durable.effectToolCall.addedP50Ms.toFixed(3)} replay_speedup=${durable.replay.speedup.toFixed(1)}${durable.replay.before === undefined ? '' : ` (before ${durable.replay.before.speedup.toFixed(1)})`} agent_replay_speedup=${durable.agentReplay.speedup.toFixed(1)}\n`,
  );
}

await main();

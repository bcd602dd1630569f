/**
 * Durable runs in `make bench-runtime` (`--only durable` runs it alone and writes
 * bench/results/runtime-durable.json): what journaling adds to a call, and what replay saves.
 *
 * - Added p50 per model call and per tool call: two runtime processes on one simulator (every
 *   stream in one write) and one MCP server, the same policy but for `durability` (a local
 *   redis-server), called in turn — journal off, journal on, in interleaved rounds — one call at
 *   a time, each call a new step of a 20-step run (as an agent's are). The added p50 is the
 *   median over rounds of the on path's p50 minus the off path's. Tool calls twice: `echo`
 *   (read-only: may be called again, so journaled in one round trip at the run's tail) and
 *   `file_ticket` (an effect: marked started before the call, completed after). With
 *   `baseline` (another checkout's directory), a third runtime from that checkout's source,
 *   journal on, takes its turn in the same rounds: before and after in one run.
 * - Replay against live: a 20-step run of streamed model calls at the simulator's default
 *   pacing (the first token after 40 ms, 8 ms between events), live and journaled, then the
 *   same run again five times (a restarted agent each time), answered from the journal: the
 *   median of the five. With `baseline`, that checkout's runtime replays a run of its own in
 *   turn with each (its speedup against the same live run).
 * - CPU per journaled call: the runtime's CPU time per call (all its threads, to the
 *   microsecond: processProbe.ts `cpuUs`), journal on against off.
 * - The bundled agent's run (`/v1/agent/invoke` with `Idempotency-Key`, the simulator's plan of
 *   AGENT_TOOL_STEPS tool steps through the MCP server): live, then replayed from its journal
 *   five times — its record deleted each time, as a run taken over by another replica finds
 *   every step journaled — the median of the five; and the recorded answer of the finished run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { startMcpServer } from '../../test/support/mcpServer.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import { ONE_WRITE_STREAMS, startSimulator } from '../../test/support/simulator.ts';
import { PRIMARY_MODEL, policyDocument } from '../../test/support/standaloneRuntime.ts';
import { median, percentile } from '../../tools/stats/samples.ts';
import { cpuUs } from './processProbe.ts';

const ROUNDS = 8;
const CALLS_PER_ROUND = 200;
const RUN_STEPS = 20;
/** Tool steps of the bundled agent's run: one model turn each, and the closing turn. */
const AGENT_TOOL_STEPS = 6;
const JOURNAL_PREFIX = 'breakwater:run:bench/durable';
const CLIENT_KEY = 'bench-durable-key';
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** One call of `run`'s attempt `attempt` (by default the run's only one, named as the run). */
type Call = (step: number, run: string, attempt?: string) => Promise<void>;

export interface DurableComparisonOptions {
  /** A checkout whose runtime/src/main.ts runs as the "before" path, journal on. */
  readonly baseline?: string;
}

export async function durableComparison(options: DurableComparisonOptions = {}) {
  const redis = await startRedis();
  const fastSim = await startSimulator({ seed: 3, ...ONE_WRITE_STREAMS });
  const pacedSim = await startSimulator({ seed: 3 });
  const mcp = await startMcpServer();
  const dir = mkdtempSync(join(tmpdir(), 'bw-bench-durable-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, Buffer.alloc(32, 5).toString('base64'));
  const env = {
    ANTHROPIC_API_KEY: 'sk-bench',
    BREAKWATER_CLIENT_KEYS: CLIENT_KEY,
    BREAKWATER_DURABILITY_KEY_FILE: keyFile,
  };
  const start = async (name: string, simUrl: string, journal: boolean, checkout?: string) => {
    const doc = policy(simUrl, mcp.url, journal ? redis.address : undefined);
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(doc));
    const main = checkout === undefined ? {} : { main: join(checkout, 'runtime/src/main.ts') };
    return startRuntime(['--policy', file, '--log-level', 'warn'], env, main);
  };
  const off = await start('off', fastSim.url, false);
  const on = await start('on', fastSim.url, true);
  const before =
    options.baseline === undefined
      ? undefined
      : await start('before', fastSim.url, true, options.baseline);
  const paced = await start('paced', pacedSim.url, true);
  const pacedBefore =
    options.baseline === undefined
      ? undefined
      : await start('paced-before', pacedSim.url, true, options.baseline);
  try {
    const compared = (make: (rt: RuntimeHandle) => Promise<Call>) => compare(off, on, before, make);
    const model = await compared((rt) => modelCall(rt.url, false));
    const tool = await compared((rt) => toolCall(rt.url, 'echo'));
    const effectTool = await compared((rt) => toolCall(rt.url, 'file_ticket'));
    const live = await timedRun(paced.url, randomUUID());
    const run = randomUUID();
    const journaledLive = await timedRun(paced.url, run);
    // A replay is short enough for one scheduling hiccup to double it: the median of five.
    // The baseline's runtime replays a run it journaled itself, in turn with this one's.
    const runBefore = randomUUID();
    if (pacedBefore !== undefined) await timedRun(pacedBefore.url, runBefore);
    const replays: number[] = [];
    const replaysBefore: number[] = [];
    for (let i = 0; i < 5; i++) {
      replays.push(await timedRun(paced.url, run));
      if (pacedBefore !== undefined) replaysBefore.push(await timedRun(pacedBefore.url, runBefore));
    }
    const replayed = median(replays);
    const agent = await agentRun(paced.url, pacedSim, redis.address);
    return {
      method:
        'two runtime processes (journal off, journal on: a local redis-server) on one simulator; ' +
        `${String(ROUNDS)} interleaved rounds of ${String(CALLS_PER_ROUND)} sequential calls, each a new step ` +
        `of a ${String(RUN_STEPS)}-step run; added p50 is the median over rounds of on minus off` +
        (options.baseline === undefined
          ? ''
          : '; "before": a third runtime from the baseline checkout, journal on, in the same rounds'),
      ...(options.baseline === undefined ? {} : { baseline: commitOf(options.baseline) }),
      modelCall: model,
      toolCall: tool,
      effectToolCall: effectTool,
      replay: {
        steps: RUN_STEPS,
        pacing: 'simulator default: first token 40 ms, 8 ms between events; streamed answers',
        unjournaledLiveMs: round3(live),
        journaledLiveMs: round3(journaledLive),
        replayedMs: round3(replayed),
        replaysMs: replays.map(round3),
        speedup: round3(journaledLive / replayed),
        ...(pacedBefore === undefined
          ? {}
          : {
              before: {
                replayedMs: round3(median(replaysBefore)),
                replaysMs: replaysBefore.map(round3),
                speedup: round3(journaledLive / median(replaysBefore)),
              },
            }),
      },
      agentReplay: agent,
    };
  } finally {
    await Promise.all([off.stop(), on.stop(), before?.stop(), paced.stop(), pacedBefore?.stop()]);
    await Promise.all([fastSim.stop(), pacedSim.stop(), mcp.stop(), redis.remove()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function policy(simUrl: string, mcpUrl: string, redis: string | undefined): PolicyDocument {
  return policyDocument(simUrl, (d) => {
    d.access = { clientKeysSecret: 'bench' };
    d.mcpServers = [
      {
        name: 'tools',
        url: mcpUrl,
        timeoutMs: 10_000,
        maxConcurrent: 10,
        onUnknownOutcome: 'Fail',
      },
    ];
    if (redis !== undefined)
      d.durability = {
        store: { redis: { address: redis } },
        retentionMs: 600_000,
        encryptionKeySecretRef: { name: 'bench', key: 'key' },
        keyPrefix: JOURNAL_PREFIX,
      };
  });
}

/** Interleaved rounds of sequential calls through each runtime: p50 each, CPU per call. */
async function compare(
  off: RuntimeHandle,
  on: RuntimeHandle,
  before: RuntimeHandle | undefined,
  make: (rt: RuntimeHandle) => Promise<Call>,
) {
  const runtimes = before === undefined ? [off, on] : [off, on, before];
  const paths = await Promise.all(
    runtimes.map(async (rt) => ({
      rt,
      call: await make(rt),
      p50: [] as number[],
      cpuUs: [] as number[],
    })),
  );
  for (const path of paths) await rounds(path.call, 100);
  for (let r = 0; r < ROUNDS; r++) {
    // Each path takes each place in the order in turn: the first of a round tends to gain.
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(r + i) % paths.length] as (typeof paths)[number];
      const pid = path.rt.child.pid ?? 0;
      const cpuBefore = cpuUs(pid);
      const latencies = await rounds(path.call, CALLS_PER_ROUND);
      path.cpuUs.push((cpuUs(pid) - cpuBefore) / CALLS_PER_ROUND);
      path.p50.push(
        percentile(
          latencies.sort((a, b) => a - b),
          0.5,
        ),
      );
    }
  }
  const [base, ...journaled] = paths as [(typeof paths)[number], ...(typeof paths)[number][]];
  const summary = (path: (typeof paths)[number]) => ({
    p50Ms: round3(median(path.p50)),
    addedP50Ms: round3(median(path.p50.map((x, i) => x - (base.p50[i] ?? x)))),
    cpuUsPerCall: round3(median(path.cpuUs)),
  });
  const [after, baseline] = journaled.map(summary) as [
    ReturnType<typeof summary>,
    ReturnType<typeof summary> | undefined,
  ];
  return {
    offP50Ms: round3(median(base.p50)),
    onP50Ms: after.p50Ms,
    addedP50Ms: after.addedP50Ms,
    offCpuUsPerCall: round3(median(base.cpuUs)),
    onCpuUsPerCall: after.cpuUsPerCall,
    ...(baseline === undefined ? {} : { before: baseline }),
  };
}

/** The commit a checkout is at: its `.commit` file (an exported tree), else git's HEAD. */
function commitOf(checkout: string): string {
  const file = join(checkout, '.commit');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  return execFileSync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
  }).trim();
}

/** `count` calls, each the next step of a run (a new run every RUN_STEPS steps). */
async function rounds(call: Call, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let run = randomUUID();
  for (let i = 0; i < count; i++) {
    if (i % RUN_STEPS === 0) run = randomUUID();
    const started = performance.now();
    await call(i % RUN_STEPS, run);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

const headers = (run: string, attempt = run) => ({
  'content-type': 'application/json',
  'x-api-key': CLIENT_KEY,
  'breakwater-run-id': run,
  'breakwater-run-attempt': attempt,
});

function modelCall(url: string, stream: boolean): Promise<Call> {
  return Promise.resolve(async (step: number, run: string, attempt?: string) => {
    const response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: headers(run, attempt),
      body: JSON.stringify({
        model: PRIMARY_MODEL,
        max_tokens: 64,
        stream,
        messages: [{ role: 'user', content: `Step ${String(step)}: what is a bulkhead?` }],
      }),
    });
    if (response.status !== 200) throw new Error(`model call: ${String(response.status)}`);
    await response.text();
  });
}

/** A session of the runtime's `/mcp/tools`, then `tool` calls on it as raw JSON-RPC. */
async function toolCall(url: string, tool: 'echo' | 'file_ticket'): Promise<Call> {
  const init = await fetch(`${url}/mcp/tools`, {
    method: 'POST',
    headers: { ...headers('init'), accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  });
  const session = init.headers.get('mcp-session-id') ?? '';
  await init.text();
  let id = 1;
  return async (step: number, run: string) => {
    const response = await fetch(`${url}/mcp/tools`, {
      method: 'POST',
      headers: {
        ...headers(run),
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: id++,
        method: 'tools/call',
        params: {
          name: tool,
          arguments: { [tool === 'echo' ? 'text' : 'title']: `step ${String(step)} ${run}` },
        },
      }),
    });
    const text = await response.text();
    if (response.status !== 200 || text.includes('"isError":true'))
      throw new Error(`tool call: ${String(response.status)} ${text}`);
  };
}

/**
 * A run of RUN_STEPS streamed model calls, one after the other, as a new attempt (an agent
 * started again replays what the journal holds); its wall time.
 */
async function timedRun(url: string, run: string): Promise<number> {
  const call = await modelCall(url, true);
  const attempt = randomUUID();
  const started = performance.now();
  for (let step = 0; step < RUN_STEPS; step++) await call(step, run, attempt);
  return performance.now() - started;
}

/**
 * The bundled agent's run, live and then replayed from its journal (the run's record deleted
 * so that it executes again: every step is answered from the journal, none live), and the
 * finished run's recorded answer.
 */
async function agentRun(
  url: string,
  sim: { stats(): Promise<{ requests: number }> },
  redisAddress: string,
) {
  const key = `bench-${randomUUID()}`;
  const invoke = async (): Promise<{ ms: number; run: string; replayed: boolean }> => {
    const started = performance.now();
    const response = await fetch(`${url}/v1/agent/invoke`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': CLIENT_KEY,
        'idempotency-key': key,
      },
      body: JSON.stringify({
        input: `File the tickets: use tool tools__echo ${String(AGENT_TOOL_STEPS)} times.`,
      }),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`agent run: ${String(response.status)} ${text}`);
    return {
      ms,
      run: response.headers.get('breakwater-run-id') ?? '',
      replayed: response.headers.get('x-breakwater-replayed') === 'true',
    };
  };
  const client = createClient({ url: `redis://${redisAddress}` });
  await client.connect();
  try {
    const live = await invoke();
    const served = (await sim.stats()).requests;
    const replays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await client.del(`${JOURNAL_PREFIX}:{${live.run}}:agent`);
      const again = await invoke();
      if (again.replayed) throw new Error('a replay found the recorded answer');
      replays.push(again.ms);
    }
    if ((await sim.stats()).requests !== served)
      throw new Error('a replay of the agent run called the provider');
    const recorded = await invoke();
    if (!recorded.replayed) throw new Error('the finished run was not answered as recorded');
    const replayedMs = median(replays);
    return {
      toolSteps: AGENT_TOOL_STEPS,
      journalSteps: 2 * AGENT_TOOL_STEPS + 1,
      pacing: 'simulator default (plain answers: no added latency); echo tool calls through MCP',
      liveMs: round3(live.ms),
      replayedMs: round3(replayedMs),
      replaysMs: replays.map(round3),
      recordedAnswerMs: round3(recorded.ms),
      speedup: round3(live.ms / replayedMs),
    };
  } finally {
    client.destroy();
  }
}

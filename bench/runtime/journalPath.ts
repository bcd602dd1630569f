/**
 * The journal's path alone, in one process: what a journaled call costs the runtime's CPU
 * beyond the call itself — `DurableRuns.runOf`, `begin` and `complete` (a tool call through
 * `journaledToolCall`, as `/mcp/<name>` and the bundled agent make it) against a redis-server
 * already running. Each call is a new step of a 20-step run, one call at a time.
 *
 *   node bench/runtime/journalPath.ts --redis 127.0.0.1:6547 [--kind effect|readonly|model]
 *     [--baseline DIR] [--rounds 16] [--calls 400]
 *
 * `--baseline` names another checkout (its runtime/, contract/ and platform/ are enough):
 * its DurableRuns takes its turn with this one's in every round, in the same process, so both
 * see the same load. So does the floor: the same round trips as bare PINGs (what no journal
 * code can cut: on loopback TCP most of a round trip's CPU is the kernel's). The figure is the process's CPU (process.cpuUsage: every thread,
 * garbage collection included) per call, the median over rounds; wall time is printed too,
 * but on a busy machine it is mostly noise. Run under `node --cpu-prof` to see where it goes.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import { Registry } from 'prom-client';
import { median } from '../../tools/stats/samples.ts';

type Kind = 'effect' | 'readonly' | 'model';

const RUN_STEPS = 20;
const CLIENT_KEY = 'bench-journal-key';
/** Runs of this process only: a journal left by an earlier one would be replayed. */
const NONCE = randomUUID().slice(0, 8);

const { values } = parseArgs({
  options: {
    redis: { type: 'string', default: '127.0.0.1:6379' },
    kind: { type: 'string', default: 'effect' },
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '16' },
    calls: { type: 'string', default: '400' },
  },
});
const kind = values.kind as Kind;
if (!['effect', 'readonly', 'model'].includes(kind)) throw new Error(`--kind ${kind}?`);

/** One checkout's journal path, loaded from its own source. */
interface Path {
  readonly name: string;
  call(run: string, step: number): Promise<void>;
  close(): void;
}

const keyDir = mkdtempSync(join(tmpdir(), 'bw-journal-path-'));
const keyFile = join(keyDir, 'key');
writeFileSync(keyFile, Buffer.alloc(32, 7).toString('base64'));

type DurableRunsModule = typeof import('../../runtime/src/durable/durableRuns.ts');
type DurableMetricsModule = typeof import('../../runtime/src/durable/durableMetrics.ts');
type DurableToolsModule = typeof import('../../runtime/src/durable/durableTools.ts');
type PolicyDocumentModule = typeof import('../../contract/src/policy/policyDocument.ts');
type AuditLogModule = typeof import('../../runtime/src/audit/auditLog.ts');
type LoggerModule = typeof import('../../runtime/src/telemetry/logger.ts');
type ClockModule = typeof import('../../platform/src/time/clock.ts');

/** Another checkout's modules, taken to have this one's shape (the parts used here). */
async function loadPath(name: string, root: string): Promise<Path> {
  const from = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(join(root, file)).href)) as T;
  const { DurableRuns } = await from<DurableRunsModule>('runtime/src/durable/durableRuns.ts');
  const { DurableMetrics } = await from<DurableMetricsModule>(
    'runtime/src/durable/durableMetrics.ts',
  );
  const { journaledToolCall, toolRequest } = await from<DurableToolsModule>(
    'runtime/src/durable/durableTools.ts',
  );
  const { canonicalJson } = await from<PolicyDocumentModule>(
    'contract/src/policy/policyDocument.ts',
  );
  const { AuditLog } = await from<AuditLogModule>('runtime/src/audit/auditLog.ts');
  const { createLogger } = await from<LoggerModule>('runtime/src/telemetry/logger.ts');
  const { systemClock } = await from<ClockModule>('platform/src/time/clock.ts');
  const metrics = new DurableMetrics(new Registry());
  const runs = new DurableRuns({
    clock: systemClock,
    logger: createLogger('silent'),
    metrics,
    audit: new AuditLog(false),
    env: { BREAKWATER_DURABILITY_KEY_FILE: keyFile },
  });
  runs.configure({
    store: { redis: { address: values.redis } },
    retentionMs: 600_000,
    encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
    keyPrefix: `breakwater:run:bench/journal-${name}`,
  });
  const deadline = Date.now() + 3_000;
  while (runs.store === undefined) {
    if (Date.now() > deadline) throw new Error(`${name}: no redis at ${values.redis}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const signal = new AbortController().signal;
  // A literal, not access/callerIdentity.ts: a checkout from before it has no such module.
  const CALLER = {
    kind: 'clientKey',
    key: CLIENT_KEY,
    fingerprint: 'key-bench',
    binding: 'key-bench',
  } as const;
  const call = async (run: string, step: number): Promise<void> => {
    // Both shapes: this checkout's runOf reads `id` and `attempt` (each run one attempt), one
    // from before it took a RunName the header.
    const runName = { id: run, attempt: run, 'breakwater-run-id': run };
    const named = runs.runOf(runName, CALLER);
    if (named?.ok !== true) throw new Error(`${name}: the run is not journaled`);
    if (kind === 'model') {
      const body = {
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: `Step ${String(step)}: what is a bulkhead?` }],
      };
      const begun = await runs.begin(named.run, 'model', canonicalJson(body));
      if (begun.action !== 'live' || begun.step === undefined) throw new Error(begun.action);
      await runs.complete(begun.step, modelAnswer(step));
      return;
    }
    const tool = kind === 'effect' ? 'file_ticket' : 'echo';
    const input = { [kind === 'effect' ? 'title' : 'text']: `step ${String(step)} ${run}` };
    const result = await journaledToolCall(
      runs,
      metrics,
      named.run,
      toolRequest('tools', tool, input),
      {
        mayCallAgain: () => kind === 'readonly',
        live: () =>
          Promise.resolve({
            content: [{ type: 'text', text: `${tool}: ${JSON.stringify(input)}` }],
          }),
        unknown: () => ({ content: [], isError: true }),
        signal,
      },
    );
    if ('refused' in result) throw new Error(`${name}: refused`);
  };
  return {
    name,
    call,
    close: () => {
      runs.close();
    },
  };
}

/** An answer of the simulator's size (a short plain message). */
function modelAnswer(step: number) {
  const text = `Step ${String(step)}: a bulkhead isolates a part of a system so that its failure does not sink the rest; here it bounds the calls in flight per agent and queues a few more.`;
  return {
    kind: 'model' as const,
    status: 200,
    stream: false,
    body: JSON.stringify({
      id: `msg_${String(step).padStart(24, '0')}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 21, output_tokens: 48 },
    }),
    model: 'claude-sonnet-4-5',
    backend: 'primary',
    usage: { input_tokens: 21, output_tokens: 48 },
  };
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function measure(path: Path, calls: number, round: number): Promise<[number, number]> {
  const cpu = cpuNow();
  const wall = performance.now();
  for (let i = 0; i < calls; i++) {
    const step = i % RUN_STEPS;
    await path.call(`${NONCE}-${String(round)}-${String(Math.floor(i / RUN_STEPS))}`, step);
  }
  return [(cpuNow() - cpu) / calls, ((performance.now() - wall) * 1000) / calls];
}

/**
 * The floor: the same round trips as bare PINGs through a node-redis client of its own (two
 * for a tool with an effect, and for a run's first step; one otherwise).
 */
async function roundTrips(): Promise<Path> {
  const [host = '', port = ''] = values.redis.split(':');
  const client = createClient({ socket: { host, port: Number(port) } });
  await client.connect();
  const call = async (_run: string, step: number): Promise<void> => {
    await client.sendCommand(['PING']);
    if (kind === 'effect' || step === 0) await client.sendCommand(['PING']);
  };
  return {
    name: 'round trips',
    call,
    close: () => {
      client.destroy();
    },
  };
}

const paths = [await loadPath('after', resolve(import.meta.dirname, '../..'))];
if (values.baseline !== undefined) paths.push(await loadPath('before', resolve(values.baseline)));
paths.push(await roundTrips());
const rounds = Number(values.rounds);
const calls = Number(values.calls);
for (const path of paths) await measure(path, calls, -1); // warm-up
const cpu = new Map<string, number[]>(paths.map((p) => [p.name, []]));
const wall = new Map<string, number[]>(paths.map((p) => [p.name, []]));
const differences: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Alternate who goes first: the first of a pair runs on a slightly different machine state.
  const order = round % 2 === 0 ? paths : [...paths].reverse();
  const byName = new Map<string, number>();
  for (const path of order) {
    const [cpuUs, wallUs] = await measure(path, calls, round);
    cpu.get(path.name)?.push(cpuUs);
    wall.get(path.name)?.push(wallUs);
    byName.set(path.name, cpuUs);
  }
  if (byName.has('before'))
    differences.push((byName.get('after') ?? 0) - (byName.get('before') ?? 0));
}
for (const path of paths) path.close();
rmSync(keyDir, { recursive: true, force: true });
const round1 = (x: number): number => Math.round(x * 10) / 10;
for (const path of paths) {
  const c = cpu.get(path.name) ?? [];
  console.log(
    `${kind} ${path.name}: CPU ${String(round1(median(c)))} µs/call (rounds ${String(round1(Math.min(...c)))}–${String(round1(Math.max(...c)))}), wall ${String(round1(median(wall.get(path.name) ?? [])))} µs/call`,
  );
}
if (differences.length > 0)
  console.log(
    `${kind} after − before: ${String(round1(median(differences)))} µs/call (median of ${String(rounds)} rounds' differences; lower in ${String(differences.filter((d) => d < 0).length)})`,
  );

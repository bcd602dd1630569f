/**
 * PROTOTYPE check (task hot60, branch `lean-route`): the lean `/v1/messages` path
 * (runtime/src/server/leanMessages.ts) answers and counts as the long way does. Two runtimes
 * of this checkout on one simulator, the bench's policy (one backend, a fallback model, client
 * keys), one with `BREAKWATER_LEAN_ROUTE=off`; each is sent the same calls in turn (plain,
 * streamed, refused, failed and retried, fallen back, cut) with the same simulator fault before
 * each, and the two are compared: status, headers and body of every answer (ids, dates and
 * the serving request's id taken out), and every metric series whose value is not a time.
 *
 *   node bench/runtime/leanParity.ts    (exits 1 on a difference, printing it)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import {
  ONE_WRITE_STREAMS,
  startSimulator,
  type FaultRequest,
} from '../../test/support/simulator.ts';

const KEY = 'bk-parity-client-key-0123456789abcdef';

interface Step {
  readonly name: string;
  readonly fault?: FaultRequest;
  readonly key?: string;
  readonly body: Record<string, unknown>;
}

const plain = (content: string, extra: Record<string, unknown> = {}) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user', content }],
  ...extra,
});

// The breaker opens after five failures in a row: the calls that fail most come last, so that
// every call before them is one the lean path takes.
const STEPS: readonly Step[] = [
  { name: 'plain', body: plain('What is a bulkhead?') },
  {
    name: 'plain, max_tokens defaulted',
    body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }] },
  },
  { name: 'stream', body: plain('Stream me an answer.', { stream: true }) },
  { name: 'refused body', body: { model: PRIMARY_MODEL, max_tokens: 'x', messages: [] } },
  { name: 'wrong key', key: 'bk-wrong', body: plain('Hi') },
  { name: 'one 529, retried', fault: { status: 529, count: 1 }, body: plain('Retry me.') },
  {
    name: 'stream fails before content',
    fault: { status: 529, count: 1, inStream: 'before-content' },
    body: plain('Stream, retried.', { stream: true }),
  },
  {
    name: 'stream cut after content',
    fault: { status: 500, count: 1, inStream: 'after-content' },
    body: plain('Stream, cut.', { stream: true }),
  },
  { name: 'provider 400, not retried', fault: { status: 400, count: 1 }, body: plain('Bad.') },
  { name: 'unknown model', body: { ...plain('Who?'), model: 'claude-nonexistent-0' } },
  {
    name: 'primary down, fallback serves',
    fault: { status: 500, count: 3, model: PRIMARY_MODEL },
    body: plain('Fall back.'),
  },
  { name: 'everything 500', fault: { status: 500, count: 6 }, body: plain('Fail.') },
];

/** What a caller sees of an answer, without what differs on every call. */
function seen(status: number, headers: Headers, text: string): unknown {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!['date', 'request-id', 'keep-alive', 'content-length'].includes(name)) kept[name] = value;
  });
  const scrub = (t: string) =>
    t
      .replace(/"(id|request_id)":"[^"]*"/g, '"$1":"*"')
      .replace(/(msg|req|toolu)_[A-Za-z0-9]+/g, '$1_*');
  return { status, headers: kept, body: scrub(text) };
}

/** Metric series whose values are counts, not times or sizes of time. */
function counts(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    const series = line.slice(0, at);
    if (/seconds|duration|latency|_ms|process_|nodejs_|uptime|timestamp|start_time/i.test(series))
      continue;
    out[series] = line.slice(at + 1);
  }
  return out;
}

async function main(): Promise<void> {
  const sim = await startSimulator({ seed: 1, ...ONE_WRITE_STREAMS });
  const dir = mkdtempSync(join(tmpdir(), 'bw-lean-parity-'));
  const doc = samplePolicyDocument();
  const policy = {
    ...doc,
    model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
    backends: [{ name: 'default', baseURL: sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 }],
    retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 },
    access: { clientKeysSecret: 'parity-keys' },
  };
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  const env = { ANTHROPIC_API_KEY: 'sk-parity', BREAKWATER_CLIENT_KEYS: KEY };
  const runtimes: RuntimeHandle[] = [];
  let differences = 0;
  try {
    for (const lean of [true, false])
      runtimes.push(
        await startRuntime(['--policy', file, '--log-level', 'warn'], {
          ...env,
          ...(lean ? {} : { BREAKWATER_LEAN_ROUTE: 'off' }),
        }),
      );
    for (const step of STEPS) {
      const answers: unknown[] = [];
      for (const rt of runtimes) {
        await sim.clearFaults();
        if (step.fault !== undefined) await sim.setFault(step.fault);
        const res = await fetch(`${rt.url}/v1/messages`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': step.key ?? KEY,
            'anthropic-version': '2023-06-01',
          },
          body: JSON.stringify(step.body),
        });
        answers.push(seen(res.status, res.headers, await res.text()));
      }
      const same = isDeepStrictEqual(answers[0], answers[1]);
      if (!same) differences++;
      process.stdout.write(
        `${same ? 'same' : 'DIFFERENT'}: ${step.name} (${(answers[0] as { status: number }).status})\n`,
      );
      if (!same)
        process.stdout.write(
          `  lean: ${JSON.stringify(answers[0])}\n  long: ${JSON.stringify(answers[1])}\n`,
        );
    }
    await sim.clearFaults();
    const [lean, long] = await Promise.all(runtimes.map(async (rt) => counts(await rt.metrics())));
    const names = new Set([...Object.keys(lean ?? {}), ...Object.keys(long ?? {})]);
    let compared = 0;
    for (const name of [...names].sort()) {
      compared++;
      if (lean?.[name] !== long?.[name]) {
        differences++;
        process.stdout.write(
          `DIFFERENT metric ${name}: lean ${lean?.[name]} long ${long?.[name]}\n`,
        );
      }
    }
    process.stdout.write(`${compared} metric series compared; ${differences} differences\n`);
  } finally {
    await Promise.all(runtimes.map((rt) => rt.stop()));
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = differences === 0 ? 0 : 1;
}

await main();

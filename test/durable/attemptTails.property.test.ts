/**
 * Property test of a durable run's model calls through DurableRuns, tails and all, on a real
 * redis-server: several attempts of one run (an agent started again, the old process still
 * going) make their calls in random interleavings on one runtime, each call's answer journaled
 * before the next move. The reference is the store's view of the current attempt: the newest
 * attempt to have begun. A call of an attempt a newer one superseded is refused with 409 and the
 * provider is not asked, even when that attempt's last call went live on this runtime (its tail
 * cached here); every step is paid once, and the newest attempt replays what was paid.
 *
 * A fixed seed and a bounded count by default; BREAKWATER_PROPERTY_RUNS=<n> runs more,
 * BREAKWATER_PROPERTY_SEED=<seed> another seed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { clientKeyCaller } from '../../runtime/src/access/callerIdentity.ts';
import { AuditLog } from '../../runtime/src/audit/auditLog.ts';
import { DurableMetrics } from '../../runtime/src/durable/durableMetrics.ts';
import { DurableRuns, type RunAttempt } from '../../runtime/src/durable/durableRuns.ts';
import { createLogger } from '../../runtime/src/telemetry/logger.ts';
import { ManualClock } from '../support/manualClock.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';

const PREFIX = 'breakwater:run:tests/attempt-tails';
const ATTEMPTS = ['a0', 'a1', 'a2'] as const;
const NUM_RUNS = positive(process.env.BREAKWATER_PROPERTY_RUNS) ?? 100;
const SEED = positive(process.env.BREAKWATER_PROPERTY_SEED) ?? 20261127;

function positive(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}

let redis: RedisHandle;
let runs: DurableRuns;
const keyDir = mkdtempSync(join(tmpdir(), 'bw-attempt-tails-'));

beforeAll(async () => {
  redis = await startRedis();
  const keyFile = join(keyDir, 'key');
  writeFileSync(keyFile, Buffer.alloc(32, 2));
  runs = new DurableRuns({
    clock: new ManualClock(0),
    logger: createLogger('silent'),
    metrics: new DurableMetrics(new Registry()),
    // run_resumed is recorded at every new attempt: kept out of the test's output.
    audit: new AuditLog(false, { write: () => undefined }),
    env: { BREAKWATER_DURABILITY_KEY_FILE: keyFile },
  });
  runs.configure({
    store: { redis: { address: redis.address } },
    retentionMs: 3_600_000,
    encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
    keyPrefix: PREFIX,
  });
});

afterAll(async () => {
  runs.close();
  await redis.remove();
  rmSync(keyDir, { recursive: true, force: true });
});

/** The run's requests (few distinct, so they repeat), and which attempt calls next. */
const script = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 6 });
const turns = fc.array(fc.constantFrom(...ATTEMPTS), { minLength: 1, maxLength: 24 });

const answerOf = (request: string, position: number) => ({
  kind: 'model' as const,
  status: 200,
  stream: false,
  body: `${request}#${String(position)}`,
  model: 'claude-test',
  backend: 'primary',
  usage: { input_tokens: 1, output_tokens: 1 },
});

async function execute(requests: readonly string[], order: readonly string[]): Promise<void> {
  const id = `tails-${randomUUID()}`;
  const next = new Map<string, number>();
  /** The store's view: attempts in the order they began; the last is the current one. */
  const begun: string[] = [];
  const refusedFor = new Set<string>();
  /** Provider calls per step. */
  const paid = requests.map(() => 0);
  for (const attempt of order) {
    const index = next.get(attempt) ?? 0;
    const request = requests[index];
    if (request === undefined || refusedFor.has(attempt)) continue;
    const named = runs.runOf({ id, attempt }, clientKeyCaller('k'));
    if (named?.ok !== true) throw new Error('the run is not named');
    const run: RunAttempt = named.run;
    const superseded = begun.includes(attempt) && begun.at(-1) !== attempt;
    const begin = await runs.begin(run, 'model', request);
    if (superseded) {
      // Refused by the store's view, whatever this runtime last saw of the attempt.
      expect(begin).toMatchObject({ action: 'refused', status: 409 });
      refusedFor.add(attempt);
      continue;
    }
    if (!begun.includes(attempt)) begun.push(attempt);
    if (begin.action === 'live') {
      paid[index] = (paid[index] ?? 0) + 1;
      if (begin.step !== undefined) await runs.complete(begin.step, answerOf(request, index));
    } else {
      expect(begin).toEqual({ action: 'replay', answer: answerOf(request, index) });
    }
    next.set(attempt, index + 1);
  }
  // Each step the attempts reached paid once, by whichever attempt reached it first.
  const reached = Math.max(0, ...next.values());
  expect(paid).toEqual(requests.map((_, index) => (index < reached ? 1 : 0)));
}

describe('the attempts of one run interleaved on one runtime', () => {
  it(`refuse a superseded attempt before the provider is asked, though its tail is cached here, and pay each step once (seed ${String(SEED)}, ${String(NUM_RUNS)} cases)`, async () => {
    await fc.assert(fc.asyncProperty(script, turns, execute), {
      seed: SEED,
      numRuns: NUM_RUNS,
      endOnFailure: false,
      verbose: fc.VerbosityLevel.Verbose,
    });
  }, 120_000);
});

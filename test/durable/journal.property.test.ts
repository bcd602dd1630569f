/**
 * Property tests of a run's journal and lease on a real redis-server: random interleavings of
 * two runtimes (and a third that finishes) executing one run — each start of an execution an attempt of its own,
 * claims, tool effects and completions as separate moves, executions killed between any two
 * (after the claim, after the effect), leases lapsing by Redis's clock (a one-millisecond lease,
 * never a long sleep), takeovers, and stale executions that go on after their lease was taken —
 * held against the reference model (test/support/journalModel.ts) move by move, and against
 * the promises: no tool effect runs twice, no step is lost, the N-th call replays step N. Calls
 * of the run that name no attempt (a team's own agent without `Breakwater-Run-Attempt`) come
 * between any two moves: each is refused, and the journal is as the model, which never sees them.
 *
 * A fixed seed and a bounded count by default; BREAKWATER_PROPERTY_RUNS=<n> runs more
 * (`make test-properties`), BREAKWATER_PROPERTY_SEED=<seed> another seed. A failure prints its
 * seed, path and the shrunk case.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type RedisClientType } from '@redis/client';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { clientKeyCaller } from '../../runtime/src/access/callerIdentity.ts';
import { AuditLog } from '../../runtime/src/audit/auditLog.ts';
import { DurableMetrics } from '../../runtime/src/durable/durableMetrics.ts';
import { DurableRuns } from '../../runtime/src/durable/durableRuns.ts';
import { createLogger } from '../../runtime/src/telemetry/logger.ts';
import { ManualClock } from '../support/manualClock.ts';
import { RunJournal, runKeys } from '../../runtime/src/durable/runJournal.ts';
import { RunDebts } from '../../runtime/src/durable/runDebts.ts';
import { RunLeases } from '../../runtime/src/durable/runLeases.ts';
import { stepHeader, type StepKind } from '../../runtime/src/durable/journalEntry.ts';
import { JournalModel, LeaseModel } from '../support/journalModel.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';

const PREFIX = 'breakwater:run:tests/properties';
const OWNER = 'key-one:owner';
const LONG_LEASE_MS = 600_000;
const RUNTIMES = ['r0', 'r1'] as const;
const DRAINER = 'r-last';

const NUM_RUNS = positive(process.env.BREAKWATER_PROPERTY_RUNS) ?? 100;
const SEED = positive(process.env.BREAKWATER_PROPERTY_SEED) ?? 20261127;

function positive(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Room for a long run: half a second a case at worst, never under two minutes. */
const TIMEOUT_MS = Math.max(120_000, NUM_RUNS * 500);

/** What the cases exercised, for the record (bench/results/journal-properties.md). */
const seen = new Map<string, number>();
const saw = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);

let redis: RedisHandle;
let client: RedisClientType;
let journal: RunJournal;
/** How the runtime reads a call's run (server/runHeaders.ts): naming one needs the key alone. */
let runs: DurableRuns;
const keyDir = mkdtempSync(join(tmpdir(), 'bw-journal-properties-'));

beforeAll(async () => {
  // Persisted (an append-only file fsynced on every write): the store goes away and comes back.
  redis = await startRedis({ persist: true });
  client = createClient({ url: `redis://${redis.address}` });
  // The store goes away on purpose: the client reconnects, and says so here.
  client.on('error', () => undefined);
  await client.connect();
  journal = new RunJournal(client, PREFIX, 3_600_000);
  const keyFile = join(keyDir, 'key');
  writeFileSync(keyFile, Buffer.alloc(32, 1));
  runs = new DurableRuns({
    clock: new ManualClock(0),
    logger: createLogger('silent'),
    metrics: new DurableMetrics(new Registry()),
    audit: new AuditLog(false),
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
  if (process.env.BREAKWATER_PROPERTY_RUNS !== undefined)
    process.stdout.write(`journal properties: ${JSON.stringify(Object.fromEntries(seen))}\n`);
  runs.close();
  client.destroy();
  await redis.remove();
  rmSync(keyDir, { recursive: true, force: true });
});

type Call = readonly [kind: StepKind, request: 'a' | 'b' | 'c'];
type Runtime = (typeof RUNTIMES)[number] | typeof DRAINER;
type Move =
  | {
      readonly move:
        | 'start'
        | 'claim'
        | 'effect'
        | 'fail'
        | 'complete'
        | 'kill'
        /** The runtime restarted: its execution and what it owed the run gone. */
        | 'restart'
        /** The next call goes on without the journal: its claim never reached the store. */
        | 'gap'
        /** The same, but its claim reached the store and only the answer was lost. */
        | 'late'
        /** The next call's claim is made, then refused (no replica confirmed it): never run. */
        | 'refuse';
      readonly on: Runtime;
    }
  | { readonly move: 'lapse' }
  /** A call of the run that names no attempt. */
  | { readonly move: 'unnamed' }
  | { readonly move: 'store-restart' };

/** A run's calls: few distinct requests, so calls repeat, the first one too, mid-run. */
const script = fc.array(
  fc.tuple(fc.constantFrom<StepKind>('model', 'tool'), fc.constantFrom('a', 'b', 'c')),
  { minLength: 1, maxLength: 8 },
);
const runtime = fc.constantFrom(...RUNTIMES);
/**
 * The moves of a case; `unnamed` weighs calls that name no attempt (0: none), `missed` calls
 * the journal misses (a claim that never reached the store, one whose answer was lost, one
 * refused after it was made).
 */
const moves = (unnamed: number, missed = 0) =>
  fc.array(
    fc.oneof(
      { weight: 2, arbitrary: runtime.map((on) => ({ move: 'start' as const, on })) },
      { weight: 4, arbitrary: runtime.map((on) => ({ move: 'claim' as const, on })) },
      { weight: 3, arbitrary: runtime.map((on) => ({ move: 'effect' as const, on })) },
      { weight: 4, arbitrary: runtime.map((on) => ({ move: 'complete' as const, on })) },
      { weight: 1, arbitrary: runtime.map((on) => ({ move: 'kill' as const, on })) },
      {
        weight: missed / 2,
        arbitrary: runtime.map((on) => ({ move: 'restart' as const, on })),
      },
      { weight: 1, arbitrary: runtime.map((on) => ({ move: 'fail' as const, on })) },
      { weight: 1, arbitrary: fc.constant({ move: 'lapse' as const }) },
      { weight: unnamed, arbitrary: fc.constant({ move: 'unnamed' as const }) },
      {
        weight: missed,
        arbitrary: fc
          .tuple(fc.constantFrom('gap' as const, 'late' as const, 'refuse' as const), runtime)
          .map(([move, on]) => ({ move, on })),
      },
    ),
    { minLength: 10, maxLength: 60 },
  );
/**
 * Before which move the store goes away and comes back (its append-only file kept), in one
 * case of five (-1: never): each restart costs a server start.
 */
const storeRestart = fc.oneof(
  { weight: 4, arbitrary: fc.constant(-1) },
  { weight: 1, arbitrary: fc.nat({ max: 59 }) },
);

const hash = (request: string) => request.repeat(64);
/** A done step's entry: which call of the script answered it, and how. */
const answer = (kind: StepKind, request: string, index: number, how: string) =>
  `${stepHeader(kind, 'done', hash(request))}#${String(index)} ${how}`;
const indexOf = (entry: string) => Number(/#(\d+) /.exec(entry)?.[1] ?? -1);

interface Execution {
  readonly attempt: string;
  index: number;
  pending?: {
    readonly position: number;
    readonly index: number;
    readonly mode: 'live' | 'unknown';
    effected: boolean;
  };
}

/**
 * One run executed by the moves, then finished by a last runtime that takes it over; every
 * move is checked against the models, and the end against the promises.
 */
async function execute(calls: readonly Call[], plan: readonly Move[], restartAt: number) {
  const run = `prop-${randomUUID()}`;
  const model = new JournalModel();
  const lease = new LeaseModel();
  const executions = new Map<Runtime, Execution>();
  const effects = calls.map(() => 0);
  /** Calls made without the journal, by index: each may have run once more (D1's bound). */
  const unjournaled = calls.map(() => 0);
  /** What each runtime owes the run's journal (durableRuns.ts keeps one per replica). */
  const debts = new Map<Runtime, RunDebts>();
  const debtsOf = (on: Runtime): RunDebts => {
    const held = debts.get(on) ?? new RunDebts();
    debts.set(on, held);
    return held;
  };
  let attempts = 0;
  /** Set by the move that completes the script's last call. */
  const progress = { finished: false };
  const finished = () => progress.finished;
  const leases = (replica: string, ms = LONG_LEASE_MS) =>
    new RunLeases(client, PREFIX, replica, ms, (op) => op);
  const log = () => client.lRange(runKeys(PREFIX, run)[0] ?? '', 0, -1);

  async function play(move: Move): Promise<void> {
    if (progress.finished) return;
    saw(move.move);
    if (move.move === 'store-restart') {
      await redis.stop();
      await redis.start();
      await client.ping();
      return;
    }
    if (move.move === 'unnamed') {
      // Refused before the journal is asked: the model never sees it, nor may the journal.
      expect(runs.runOf({ id: run }, clientKeyCaller('k'))).toMatchObject({
        ok: false,
        name: 'attempt',
      });
      expect(await log()).toEqual(model.steps.map((step) => step.entry));
      return;
    }
    if (move.move === 'lapse') {
      const holder = lease.holder;
      if (holder === undefined) return;
      // A one-millisecond lease from now, by the store's clock: lapsed once TIME moves on.
      expect(await leases(holder, 1).renew(run)).toBe(lease.renew(holder));
      while (!(await leases(holder).lapsed(16)).includes(run))
        await new Promise((resolve) => setTimeout(resolve, 1));
      lease.lapsed = true;
      return;
    }
    const on = move.on;
    const execution = executions.get(on);
    switch (move.move) {
      case 'start': {
        if (execution !== undefined) return;
        const takeover = lease.lapsed && lease.holder !== on;
        const granted = await leases(on).acquire(run);
        expect(granted).toBe(lease.acquire(on));
        if (granted && takeover) saw('takeover');
        if (granted) executions.set(on, { attempt: `${on}-${String(attempts++)}`, index: 0 });
        return;
      }
      case 'kill':
        // The execution (the agent) dies; the runtime, and what it owes the run, lives on.
        executions.delete(on);
        return;
      case 'restart':
        // The runtime dies with its execution: what it owed the run is lost.
        executions.delete(on);
        debts.delete(on);
        return;
      case 'gap':
      case 'late': {
        // Never the last call: a run's last step is journaled, or the run is not finished.
        if (execution === undefined || execution.pending !== undefined) return;
        const index = execution.index;
        if (index >= calls.length - 1) return;
        const [kind, request] = calls[index] ?? ['model', 'a'];
        const header = stepHeader(kind, 'started', hash(request));
        // As durableRuns.ts does: what the claim carried is owed again, with the call.
        const debt = debtsOf(on).take(run);
        if (move.move === 'late') {
          await journal.claim(run, OWNER, kind, hash(request), execution.attempt, debt);
          model.claim(kind, hash(request), execution.attempt, debt);
        }
        debtsOf(on).unanswered(run, execution.attempt, debt, header, move.move === 'late');
        if (kind === 'tool') effects[index] = (effects[index] ?? 0) + 1;
        unjournaled[index] = (unjournaled[index] ?? 0) + 1;
        execution.index++;
        break;
      }
      case 'refuse': {
        if (execution === undefined || execution.pending !== undefined) return;
        const [kind, request] = calls[execution.index] ?? ['model', 'a'];
        const debt = debtsOf(on).take(run);
        const claim = await journal.claim(run, OWNER, kind, hash(request), execution.attempt, debt);
        expect(stripped(claim)).toEqual(
          stripped(model.claim(kind, hash(request), execution.attempt, debt)),
        );
        if (claim.verdict === 'superseded') executions.delete(on);
        if (claim.verdict === 'live' || claim.verdict === 'replay')
          debtsOf(on).refused(run, execution.attempt, {
            position: claim.position,
            live: claim.verdict === 'live',
            header:
              claim.verdict === 'live'
                ? stepHeader(kind, 'started', hash(request))
                : claim.entry.slice(0, 66),
          });
        break;
      }
      case 'claim': {
        if (execution === undefined || execution.pending !== undefined) return;
        const index = execution.index;
        const [kind, request] = calls[index] ?? ['model', 'a'];
        const debt = debtsOf(on).take(run);
        const claim = await journal.claim(run, OWNER, kind, hash(request), execution.attempt, debt);
        expect(stripped(claim)).toEqual(
          stripped(model.claim(kind, hash(request), execution.attempt, debt)),
        );
        saw(
          claim.verdict === 'replay'
            ? claim.entry[1] === 'd'
              ? 'replayed'
              : 'unknown outcome'
            : claim.verdict === 'live' && claim.diverged
              ? 'diverged'
              : claim.verdict,
        );
        if (claim.verdict === 'superseded') {
          executions.delete(on);
        } else if (claim.verdict === 'replay' && claim.entry[1] === 'd') {
          // The N-th call of an attempt is answered with what the N-th call was answered.
          expect(indexOf(claim.entry)).toBe(index);
          execution.index++;
        } else if (claim.verdict === 'replay') {
          execution.pending = { position: claim.position, index, mode: 'unknown', effected: false };
        } else if (claim.verdict === 'live') {
          execution.pending = { position: claim.position, index, mode: 'live', effected: false };
        }
        break;
      }
      case 'effect': {
        const pending = execution?.pending;
        if (pending === undefined || pending.mode !== 'live' || pending.effected) return;
        if (calls[pending.index]?.[0] === 'tool')
          effects[pending.index] = (effects[pending.index] ?? 0) + 1;
        pending.effected = true;
        return;
      }
      case 'fail': {
        // A live model call that failed: its marker is dropped, and the call is made again.
        const pending = execution?.pending;
        if (execution === undefined || pending?.mode !== 'live') return;
        const [kind, request] = calls[pending.index] ?? ['tool', 'a'];
        if (kind !== 'model') return;
        await journal.abandon(run, pending.position, kind, hash(request), execution.attempt);
        model.abandon(pending.position, kind, hash(request), execution.attempt);
        delete execution.pending;
        break;
      }
      case 'complete': {
        const pending = execution?.pending;
        if (execution === undefined || pending === undefined) return;
        if (pending.mode === 'live' && !pending.effected) return;
        const [kind, request] = calls[pending.index] ?? ['model', 'a'];
        // An interrupted tool call is not made again (onUnknownOutcome: Fail); a model call is.
        const how = pending.mode === 'unknown' && kind === 'tool' ? 'unknown' : 'live';
        const entry = answer(kind, request, pending.index, how);
        const written = await journal.complete(run, pending.position, kind, hash(request), entry);
        expect(written).toBe(model.complete(pending.position, kind, hash(request), entry));
        delete execution.pending;
        execution.index++;
        if (execution.index === calls.length) {
          progress.finished = true;
          await leases(on).release(run);
          lease.release(on);
        }
        break;
      }
    }
    const held = await log();
    expect(held).toEqual(model.steps.map((step) => step.entry));
    // No tool's effect twice (but a call made without the journal, once more each time);
    // every done step at its own place.
    expect(effects.every((count, i) => count <= 1 + (unjournaled[i] ?? 0))).toBe(true);
    held.forEach((entry, position) => {
      if (entry[1] === 'd') expect(indexOf(entry)).toBe(position);
    });
  }

  for (const [at, move] of plan.entries())
    await play(at === restartAt ? { move: 'store-restart' } : move);
  // A last runtime takes the run over and finishes it, uninterrupted.
  if (!progress.finished) {
    await play({ move: 'lapse' });
    await play({ move: 'start', on: DRAINER });
    for (let guard = 0; !finished() && guard < calls.length * 4; guard++) {
      await play({ move: 'claim', on: DRAINER });
      await play({ move: 'effect', on: DRAINER });
      await play({ move: 'complete', on: DRAINER });
    }
  }
  expect(progress.finished).toBe(true);
  const held = await log();
  // Every step kept, at its place; each tool's effect once, or none when its outcome was lost
  // with a killed execution and it was not made again (said so in its answer).
  expect(held).toHaveLength(calls.length);
  // A call made without the journal is there as started (its outcome unknown) when the attempt
  // that made it finished the run, and may have run once more each time.
  held.forEach((entry, position) => {
    if (entry[1] === 's' && (unjournaled[position] ?? 0) > 0) return;
    expect(entry.slice(0, 2)).toBe(entry[0] === 't' ? 'td' : 'md');
    expect(indexOf(entry)).toBe(position);
    if (entry[0] === 't')
      expect(
        effects[position] === 1 ||
          entry.endsWith(' unknown') ||
          (effects[position] ?? 0) <= 1 + (unjournaled[position] ?? 0),
      ).toBe(true);
  });
}

/** A claim as the model answers it (the model does not say whether an attempt began). */
const stripped = (claim: object) => ({ ...claim, newAttempt: undefined, ahead: undefined });

const parameters = (runs: number): fc.Parameters<[readonly Call[], readonly Move[], number]> => ({
  seed: SEED,
  numRuns: runs,
  endOnFailure: false,
  verbose: fc.VerbosityLevel.Verbose,
});

describe('a run journal under random interleavings of runtimes', () => {
  it(
    `matches the model, never runs an effect twice and keeps every step (seed ${String(SEED)}, ${String(NUM_RUNS)} cases)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(script, moves(0), storeRestart, execute),
        parameters(NUM_RUNS),
      );
    },
    TIMEOUT_MS,
  );

  it(
    'keeps every later call at its own place when the journal misses some (D1 after a gap)',
    async () => {
      await fc.assert(
        fc.asyncProperty(script, moves(0, 2), storeRestart, execute),
        parameters(NUM_RUNS),
      );
    },
    TIMEOUT_MS,
  );

  it(
    'refuses every call that names no attempt, wherever it comes, and it moves nothing',
    async () => {
      await fc.assert(
        fc.asyncProperty(script, moves(4), storeRestart, execute),
        parameters(NUM_RUNS),
      );
    },
    TIMEOUT_MS,
  );
});

/**
 * A run's journal on a real redis-server (runtime/src/durable/claim.lua, complete.lua): which
 * step a call gets, and when. The cursor belongs to the run's current attempt: a call of
 * another attempt (a restarted agent's) begins that one at step one; a call the journal does
 * not hold where the cursor stands drops the rest (diverged); every write keeps the run for its
 * retention.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createClient, type RedisClientType } from '@redis/client';
import {
  attemptsKey,
  countsKey,
  RunJournal,
  runKeys,
} from '../../runtime/src/durable/runJournal.ts';
import { stepHeader } from '../../runtime/src/durable/journalEntry.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';

const PREFIX = 'breakwater:run:tests/journal';
const RETENTION_MS = 60_000;
const hash = (c: string) => c.repeat(64);
const done = (kind: 'model' | 'tool', c: string) =>
  `${stepHeader(kind, 'done', hash(c))}sealed-${c}`;

let redis: RedisHandle;
let client: RedisClientType;
let journal: RunJournal;

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: `redis://${redis.address}` });
  await client.connect();
  journal = new RunJournal(client, PREFIX, RETENTION_MS);
});

afterAll(async () => {
  client.destroy();
  await redis.remove();
});

/** Owners as durableRuns.ts makes them: `<journal key id>:<client>` (owner.lua). */
const OWNER_A = 'key-one:owner-a';
const OWNER_B = 'key-one:owner-b';

/**
 * Plays `calls` (kind and request) as one attempt, completing each live step; `named` is the
 * attempt's name (by default a new one: an agent started again).
 */
async function attempt(
  run: string,
  calls: readonly [kind: 'model' | 'tool', c: string][],
  named: string = randomUUID(),
) {
  const verdicts: string[] = [];
  for (const [kind, c] of calls) {
    const claim = await journal.claim(run, OWNER_A, kind, hash(c), named);
    verdicts.push(
      claim.verdict === 'live'
        ? `live@${String(claim.position)}${claim.diverged ? ' diverged' : ''}`
        : claim.verdict === 'replay'
          ? `replay@${String(claim.position)}${claim.newAttempt ? ' new attempt' : ''}`
          : claim.verdict,
    );
    if (claim.verdict === 'live')
      await journal.complete(run, claim.position, kind, hash(c), done(kind, c));
  }
  return verdicts;
}

const log = (run: string) => client.lRange(runKeys(PREFIX, run)[0] ?? '', 0, -1);

describe('a run journal', () => {
  it('journals a first attempt, then replays it from the start for the next', async () => {
    const run = randomUUID();
    const steps: ['model' | 'tool', string][] = [
      ['model', 'a'],
      ['tool', 'b'],
      ['model', 'c'],
    ];
    expect(await attempt(run, steps)).toEqual(['live@0', 'live@1', 'live@2']);
    expect(await attempt(run, [...steps, ['tool', 'd']])).toEqual([
      'replay@0 new attempt',
      'replay@1',
      'replay@2',
      'live@3',
    ]);
    expect(await log(run)).toEqual(
      ['a', 'b', 'c', 'd'].map((c, i) => done(i % 2 === 0 ? 'model' : 'tool', c)),
    );
  });

  it('drops what follows a step that differs, and goes on live from there', async () => {
    const run = randomUUID();
    await attempt(run, [
      ['model', 'a'],
      ['tool', 'b'],
      ['model', 'c'],
    ]);
    expect(
      await attempt(run, [
        ['model', 'a'],
        ['tool', 'e'],
        ['model', 'f'],
      ]),
    ).toEqual(['replay@0 new attempt', 'live@1 diverged', 'live@2']);
    expect(await log(run)).toEqual([done('model', 'a'), done('tool', 'e'), done('model', 'f')]);
  });

  it('replays tool calls made in parallel in another order, model calls in theirs', async () => {
    const run = randomUUID();
    await attempt(run, [
      ['model', 'a'],
      ['tool', 'b'],
      ['tool', 'c'],
      ['tool', 'd'],
      ['model', 'e'],
    ]);
    expect(
      await attempt(run, [
        ['model', 'a'],
        ['tool', 'd'],
        ['tool', 'b'],
        ['tool', 'c'],
        ['model', 'e'],
      ]),
    ).toEqual(['replay@0 new attempt', 'replay@1', 'replay@2', 'replay@3', 'replay@4']);
    // The journal now holds this attempt's order.
    expect(await log(run)).toEqual([
      done('model', 'a'),
      done('tool', 'd'),
      done('tool', 'b'),
      done('tool', 'c'),
      done('model', 'e'),
    ]);
  });

  it('tells a call that started and never completed by its started marker', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']], 'first');
    await journal.claim(run, OWNER_A, 'tool', hash('b'), 'first');
    const again = await attempt(run, [['model', 'a']], 'second');
    const claim = await journal.claim(run, OWNER_A, 'tool', hash('b'), 'second');
    expect(again).toEqual(['replay@0 new attempt']);
    expect(claim).toEqual({
      verdict: 'replay',
      position: 1,
      entry: stepHeader('tool', 'started', hash('b')),
      newAttempt: false,
      // The journal's last step: the attempt is past its replay.
      ahead: false,
    });
  });

  it('drops a failed call’s marker while it is the last step, and the cursor with it', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']], 'first');
    const failed = await journal.claim(run, OWNER_A, 'model', hash('b'), 'first');
    if (failed.verdict !== 'live') throw new Error('expected a live step');
    await journal.abandon(run, failed.position, 'model', hash('b'), 'first');
    expect(await attempt(run, [['model', 'b']], 'first')).toEqual(['live@1']);
    expect(await log(run)).toEqual([done('model', 'a'), done('model', 'b')]);
  });

  it('writes no answer over a step that is not the one claimed', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']]);
    expect(await journal.complete(run, 0, 'model', hash('z'), done('model', 'z'))).toBe(false);
    expect(await journal.complete(run, 5, 'model', hash('a'), done('model', 'a'))).toBe(false);
    expect(await log(run)).toEqual([done('model', 'a')]);
  });

  it('belongs to the owner that started it', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']]);
    expect(await journal.claim(run, OWNER_B, 'model', hash('a'), 'b')).toEqual({
      verdict: 'forbidden',
    });
    expect(await journal.claim(run, OWNER_B, 'model', hash('x'), 'b')).toEqual({
      verdict: 'forbidden',
    });
    expect(await log(run)).toEqual([done('model', 'a')]);
  });

  it('begins again, live, for whoever calls first once the journal key was rotated: its steps cannot be read', async () => {
    const run = randomUUID();
    await attempt(run, [
      ['model', 'a'],
      ['tool', 'b'],
    ]);
    // Under the old key's id the run is still OWNER_A's alone.
    expect(await journal.append(run, 'key-two:owner-a', 2, done('model', 'c'), 'a')).toBe(0);
    expect(await journal.claim(run, 'key-two:owner-a', 'model', hash('a'), 'a')).toEqual({
      verdict: 'live',
      position: 0,
      diverged: false,
    });
    expect(await log(run)).toEqual([stepHeader('model', 'started', hash('a'))]);
    // The run is the caller's under the new key: another client key is refused, as ever.
    expect(await journal.claim(run, 'key-two:owner-b', 'model', hash('a'), 'b')).toEqual({
      verdict: 'forbidden',
    });
  });

  it('knows an owner written before key ids by its client part', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']]);
    await client.set(runKeys(PREFIX, run)[2] ?? '', 'owner-a');
    expect(await journal.claim(run, OWNER_A, 'model', hash('a'), 'a')).toMatchObject({
      verdict: 'replay',
      position: 0,
    });
    expect(await journal.claim(run, OWNER_B, 'model', hash('a'), 'b')).toEqual({
      verdict: 'forbidden',
    });
  });

  it('counts what its claims decided: replayed steps, new attempts, divergences', async () => {
    const run = randomUUID();
    const counts = () => client.hGetAll(countsKey(PREFIX, run));
    await attempt(
      run,
      [
        ['model', 'a'],
        ['tool', 'b'],
      ],
      'first',
    );
    // A tool call that started and never completed: found again, it is not a replayed step.
    await journal.claim(run, OWNER_A, 'model', hash('c'), 'first');
    expect(await counts()).toEqual({});
    expect(
      await attempt(
        run,
        [
          ['model', 'a'],
          ['tool', 'b'],
        ],
        'second',
      ),
    ).toEqual(['replay@0 new attempt', 'replay@1']);
    await journal.claim(run, OWNER_A, 'model', hash('c'), 'second');
    expect(await counts()).toEqual({ resumed: '1', replayed: '2' });
    expect(
      await attempt(run, [
        ['model', 'a'],
        ['tool', 'x'],
      ]),
    ).toEqual(['replay@0 new attempt', 'live@1 diverged']);
    expect(await counts()).toEqual({ resumed: '2', replayed: '3', diverged: '1' });
    const ttl = await client.pTTL(countsKey(PREFIX, run));
    expect(ttl).toBeGreaterThan(RETENTION_MS - 5_000);
  });

  it('appends at the run’s live tail only: not past its end, nor where the cursor is not', async () => {
    const run = randomUUID();
    await attempt(
      run,
      [
        ['model', 'a'],
        ['tool', 'b'],
      ],
      'first',
    );
    expect(await journal.append(run, OWNER_B, 2, done('model', 'c'), 'first')).toBe(-1);
    expect(await journal.append(run, OWNER_A, 3, done('model', 'c'), 'first')).toBe(0);
    expect(await journal.append(run, OWNER_A, 2, done('model', 'c'), 'first')).toBe(1);
    // A restarted agent's first call moves the cursor back to step one: the tail is elsewhere.
    expect(await journal.claim(run, OWNER_A, 'model', hash('a'), 'second')).toMatchObject({
      verdict: 'replay',
      newAttempt: true,
    });
    expect(await journal.append(run, OWNER_A, 3, done('model', 'd'), 'second')).toBe(0);
    expect(await log(run)).toEqual([done('model', 'a'), done('tool', 'b'), done('model', 'c')]);
  });

  it('sends its scripts again when the server has forgotten them (NOSCRIPT)', async () => {
    const run = randomUUID();
    await client.scriptFlush();
    expect(await attempt(run, [['tool', 'a']], 'first')).toEqual(['live@0']);
    expect(await journal.append(run, OWNER_A, 1, done('model', 'b'), 'first')).toBe(1);
    expect(await log(run)).toEqual([done('tool', 'a'), done('model', 'b')]);
  });

  it('keeps every key of the run for its retention from the last write', async () => {
    const run = randomUUID();
    await attempt(run, [
      ['model', 'a'],
      ['tool', 'b'],
    ]);
    for (const key of runKeys(PREFIX, run)) {
      const ttl = await client.pTTL(key);
      expect(ttl).toBeGreaterThan(RETENTION_MS - 5_000);
      expect(ttl).toBeLessThanOrEqual(RETENTION_MS);
    }
  });
});

describe('a run journal whose calls name their attempt', () => {
  it('matches a call by its place in the attempt: a first request repeated mid-run is a step of its own', async () => {
    const run = randomUUID();
    const polled: ['model' | 'tool', string][] = [
      ['tool', 's'],
      ['model', 'a'],
      ['tool', 'b'],
      ['tool', 's'],
      ['model', 'c'],
    ];
    expect(await attempt(run, polled, 'first')).toEqual([
      'live@0',
      'live@1',
      'live@2',
      'live@3',
      'live@4',
    ]);
    // Started again after a crash: the N-th call replays step N, nothing is dropped.
    expect(await attempt(run, [...polled, ['tool', 'd']], 'second')).toEqual([
      'replay@0 new attempt',
      'replay@1',
      'replay@2',
      'replay@3',
      'replay@4',
      'live@5',
    ]);
    expect(await log(run)).toHaveLength(6);
  });

  it('begins a new attempt at the first step, whatever its first call resembles', async () => {
    const run = randomUUID();
    await attempt(
      run,
      [
        ['model', 'a'],
        ['tool', 'b'],
      ],
      'first',
    );
    // The second attempt's first call differs from step one: the run diverged there.
    expect(await attempt(run, [['model', 'x']], 'second')).toEqual(['live@0 diverged']);
    expect(await log(run)).toEqual([done('model', 'x')]);
  });

  it('refuses an attempt a newer one superseded: a stale executor never moves the run', async () => {
    const run = randomUUID();
    await attempt(
      run,
      [
        ['model', 'a'],
        ['tool', 'b'],
      ],
      'first',
    );
    expect(await attempt(run, [['model', 'a']], 'second')).toEqual(['replay@0 new attempt']);
    expect(
      await attempt(
        run,
        [
          ['tool', 'b'],
          ['model', 'z'],
        ],
        'first',
      ),
    ).toEqual(['superseded', 'superseded']);
    expect(await journal.append(run, OWNER_A, 2, done('model', 'z'), 'first')).toBe(0);
    expect(
      await attempt(
        run,
        [
          ['tool', 'b'],
          ['model', 'c'],
        ],
        'second',
      ),
    ).toEqual(['replay@1', 'live@2']);
    expect(await log(run)).toEqual([done('model', 'a'), done('tool', 'b'), done('model', 'c')]);
  });

  it('leaves a failed call’s marker that a newer attempt has reached, for that attempt to answer', async () => {
    const run = randomUUID();
    const stale = await journal.claim(run, OWNER_A, 'model', hash('a'), 'first');
    // Taken over meanwhile: the new attempt finds the call started, and answers it.
    const found = await journal.claim(run, OWNER_A, 'model', hash('a'), 'second');
    await journal.abandon(run, 0, 'model', hash('a'), 'first');
    const answered = await journal.complete(run, 0, 'model', hash('a'), done('model', 'a'));

    expect(stale).toMatchObject({ verdict: 'live', position: 0 });
    expect(found).toMatchObject({ verdict: 'replay', position: 0 });
    expect(answered).toBe(true);
    expect(await attempt(run, [['tool', 'b']], 'second')).toEqual(['live@1']);
    expect(await log(run)).toEqual([done('model', 'a'), done('tool', 'b')]);
  });

  it('begins an attempt of its own where a cursor from before attempts were required stands', async () => {
    const run = randomUUID();
    await attempt(
      run,
      [
        ['model', 'a'],
        ['tool', 'b'],
      ],
      'first',
    );
    // Written by a runtime that still took calls naming no attempt: the position alone.
    await client.set(runKeys(PREFIX, run)[1] ?? '', '2');
    expect(
      await attempt(
        run,
        [
          ['model', 'a'],
          ['tool', 'b'],
        ],
        'second',
      ),
    ).toEqual(['replay@0 new attempt', 'replay@1']);
  });

  it('appends at the live tail of its own attempt only', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']], 'first');
    expect(await journal.append(run, OWNER_A, 1, done('model', 'b'), 'other')).toBe(0);
    expect(await journal.append(run, OWNER_A, 1, done('model', 'b'), '')).toBe(0);
    expect(await journal.append(run, OWNER_A, 1, done('model', 'b'), 'first')).toBe(1);
    expect(await log(run)).toEqual([done('model', 'a'), done('model', 'b')]);
  });

  it('counts a new attempt that replays as resumed, and keeps its attempts for the retention', async () => {
    const run = randomUUID();
    await attempt(run, [['model', 'a']], 'first');
    await attempt(run, [['model', 'a']], 'second');
    expect(await client.hGetAll(countsKey(PREFIX, run))).toEqual({ resumed: '1', replayed: '1' });
    expect(await client.pTTL(attemptsKey(PREFIX, run))).toBeGreaterThan(RETENTION_MS - 5_000);
  });
});

/**
 * Budgets in the store's scripts on a real redis-server: the cases of budgetScriptCases.ts
 * that need no time to pass (the lua5.1 run, budgetScripts.unit.test.ts, has them all), with
 * the same expectations, amounts read back as the strings Redis keeps.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from '@redis/client';
import {
  ADMIT_SCRIPT,
  SETTLE_SCRIPT,
  runScript,
} from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { serverHost } from '../support/podReach.ts';
import { admit, CASES, hashKey, settle, timeless } from './budgetScriptCases.ts';

/** A hash's leases with their ends, which are the server's clock, left out. */
const serverTime = (fields: Record<string, string>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(fields).map(([field, value]) => [
      field,
      field.startsWith('lease:') ? value.replace(/^\d+:/, 'server time:') : value,
    ]),
  );

describe('budgets in the store scripts on redis-server', () => {
  let redis: RedisHandle;
  let client: ReturnType<typeof createClient>;
  beforeAll(async () => {
    redis = await startRedis();
    client = createClient({ socket: { host: serverHost(), port: redis.port } });
    await client.connect();
  });
  afterAll(async () => {
    client.destroy();
    await redis.remove();
  });

  /** How many times Redis ran each command (scripts' commands included), from INFO commandstats. */
  async function commandCounts(): Promise<Record<string, number>> {
    const info = await client.info('commandstats');
    const counts: Record<string, number> = {};
    for (const [, name, calls] of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm))
      counts[name ?? ''] = Number(calls);
    return counts;
  }

  it('reads and writes an account once per call when a settlement of it rides in front', async () => {
    await client.flushAll();
    const account = { key: 'a:monthly:0', pico: '1000000' };
    const first = admit(0, [account], { id: 'a', pico: '100' });
    await runScript(client, ADMIT_SCRIPT, [...first.keys], [...first.argv]);
    await client.configResetStat();
    const riding = admit(0, [account], {
      id: 'b',
      pico: '100',
      settling: { accounts: [account], s: { id: 'a', worstPico: '100', pico: '40' } },
    });
    await runScript(client, ADMIT_SCRIPT, [...riding.keys], [...riding.argv]);
    const counts = await commandCounts();
    // The settlement, the lapse check and the hold share one read and one write of the hash,
    // which holds the leases too: the settled one goes with one HDEL, the new one with the write.
    expect(counts.hmget).toBe(1);
    expect(counts.hdel).toBe(1);
    expect(counts.hset).toBe(1);
    // The key's expiry was set by the first call; no lease can have lapsed yet (lapse_at says
    // when one may), so none is read.
    expect(counts.pexpireat).toBeUndefined();
    expect(counts.hgetall).toBeUndefined();
    expect(await client.hGetAll('t:budget:a:monthly:0')).toEqual({
      spent_micro: '0',
      spent_pico: '40',
      reserved_micro: '0',
      reserved_pico: '100',
      spent_tokens: '0',
      reserved_tokens: '0',
      'lease:b': expect.stringMatching(/^\d+:0:100:0$/),
      lapse_at: expect.stringMatching(/^\d+$/),
      keep_until: '10000000000000',
    });
  });

  it('remembers a settled reservation for an hour, however long its accounts are kept', async () => {
    await client.flushAll();
    const daily = { key: 'a:daily:0', pico: '1000', keep: 9_000_000_000_000 };
    const monthly = { key: 'a:monthly:0', pico: '1000', keep: 9_500_000_000_000 };
    const held = admit(0, [daily, monthly], { id: 'a', pico: '60' });
    await runScript(client, ADMIT_SCRIPT, [...held.keys], [...held.argv]);
    const first = settle(0, [daily, monthly], { id: 'a', worstPico: '60', pico: '25' });
    expect(first.keys.at(-1)).toBe('t:settled:a');
    expect(await runScript(client, SETTLE_SCRIPT, [...first.keys], [...first.argv])).toEqual([
      0, 2,
    ]);
    expect(await client.get('t:settled:a')).toBe('2');
    // An hour, not the month its accounts are kept: one key per call (budget.lua).
    const ttl = await client.pTTL('t:settled:a');
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    // Sent after its accounts expired: they are gone, and what it writes to them too; only its
    // marker stays, for its hour.
    await client.flushAll();
    const gone = { ...daily, keep: 1_000 };
    const late = settle(0, [gone], { id: 'b', worstPico: '60', pico: '25' });
    expect(await runScript(client, SETTLE_SCRIPT, [...late.keys], [...late.argv])).toEqual([0, 0]);
    expect(await client.keys('*')).toEqual(['t:settled:b']);
  });

  it('writes no account for a call it refuses, by a budget or by a limit', async () => {
    await client.flushAll();
    const agent = { key: 'a:daily:0', pico: '100' };
    const perKey = (n: number) => ({ key: `a:per-key:0:key-${String(n)}`, pico: '1000000' });
    const run = async (step: ReturnType<typeof admit>) =>
      (await runScript(client, ADMIT_SCRIPT, [...step.keys], [...step.argv])) as number[];
    // The agent's budget refuses (alone, and beside a key's budget that would fit).
    expect((await run(admit(0, [agent], { id: 'a', pico: '200' })))[2]).toBe(0);
    expect((await run(admit(0, [agent, perKey(1)], { id: 'b', pico: '200' })))[2]).toBe(0);
    // A rate limit refuses the second call of the second.
    expect((await run(admit(0, [perKey(2)], { id: 'c', pico: '1', requests: [1, 1] })))[2]).toBe(1);
    expect((await run(admit(0, [perKey(3)], { id: 'd', pico: '1', requests: [1, 1] })))[2]).toBe(0);
    expect(await client.keys('t:budget:*')).toEqual([hashKey(perKey(2))]);
  });

  it.each(CASES.filter(([, steps]) => timeless(steps)))('%s', async (_name, steps, expected) => {
    await client.flushAll();
    const answers: unknown[] = [];
    for (const step of steps) {
      if ('live' in step) continue;
      if ('hash' in step) {
        // lapse_at and a lease's end are the server's clock plus a lease: whole ms, not the case's.
        const { lapse_at: lapseAt, ...fields } = await client.hGetAll(step.hash);
        expect(lapseAt).toMatch(/^\d+$/);
        answers.push({ ...serverTime(fields), lapse_at: 'server time' });
        continue;
      }
      const script = step.script === 'admit' ? ADMIT_SCRIPT : SETTLE_SCRIPT;
      answers.push(await runScript(client, script, [...step.keys], [...step.argv]));
    }
    expect(answers.length).toBe(expected.length);
    answers.forEach((answer, i) => {
      const want = expected[i];
      // The server's clock runs on between steps: a limit's wait may be a few ms shorter.
      if (Array.isArray(want) && Array.isArray(answer) && want.length > 2) {
        expect(answer.slice(1)).toEqual(want.slice(1));
        expect(Number(answer[0])).toBeLessThanOrEqual(Number(want[0]));
        expect(Number(answer[0])).toBeGreaterThanOrEqual(Math.max(0, Number(want[0]) - 50));
      } else if (!Array.isArray(want) && typeof want === 'object' && want !== null) {
        expect(answer).toEqual({
          ...serverTime(want as Record<string, string>),
          lapse_at: 'server time',
        });
      } else {
        expect(answer).toEqual(want);
      }
    });
  });
});

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
import { CASES, timeless } from './budgetScriptCases.ts';

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

  it.each(CASES.filter(([, steps]) => timeless(steps)))('%s', async (_name, steps, expected) => {
    await client.flushAll();
    const answers: unknown[] = [];
    for (const step of steps) {
      if ('live' in step) continue;
      if ('hash' in step) {
        answers.push({ ...(await client.hGetAll(step.hash)) });
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
      } else {
        expect(answer).toEqual(want);
      }
    });
  });
});

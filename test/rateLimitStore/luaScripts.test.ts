/**
 * The store's Lua scripts (runtime/src/rateLimitStore/*.lua), case by case, twice: under
 * the real `lua5.1` interpreter with a clock the test sets (scriptRunner.lua), and on a real
 * `redis-server` for the cases that need no time to pass. The same expectations hold for both.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import {
  ADMIT_SCRIPT,
  PAUSE_SCRIPT,
  SETTLE_SCRIPT,
  runScript,
  type LuaScript,
} from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { serverHost } from '../support/podReach.ts';

const SCRIPTS_DIR = fileURLToPath(new URL('../../runtime/src/rateLimitStore', import.meta.url));
const RUNNER = fileURLToPath(new URL('./scriptRunner.lua', import.meta.url));
const SCRIPTS: Readonly<Record<string, LuaScript>> = {
  admit: ADMIT_SCRIPT,
  settle: SETTLE_SCRIPT,
  pause: PAUSE_SCRIPT,
};

interface Limits {
  /** Requests per second and burst. */
  readonly requests?: readonly [number, number];
  /** Tokens per minute (the capacity too). */
  readonly input?: number;
  readonly output?: number;
}

interface ScriptStep {
  readonly at: number;
  readonly script: string;
  readonly argv: readonly string[];
}
type Step = ScriptStep | { readonly at: number; readonly live: true };

const KEYS = ['t:requests', 't:input', 't:output', 't:pause'];
/** admit.lua takes every key, settle.lua the three limits, pause.lua the pause alone. */
const keysFor = (script: string): string[] =>
  script === 'pause' ? [KEYS[3] ?? ''] : script === 'settle' ? KEYS.slice(0, 3) : KEYS;

const perMs = (perMinute: number | undefined): string =>
  perMinute === undefined ? '0' : String(perMinute / 60_000);

function admit(
  at: number,
  l: Limits,
  call: { input?: number; output?: number; localWait?: number; maxWait?: number } = {},
): ScriptStep {
  return {
    at,
    script: 'admit',
    argv: [
      l.requests === undefined ? '0' : String(l.requests[0] / 1000),
      String(l.requests?.[1] ?? 0),
      '1',
      perMs(l.input),
      String(l.input ?? 0),
      String(call.input ?? 0),
      perMs(l.output),
      String(l.output ?? 0),
      String(call.output ?? 0),
      String(call.localWait ?? 0),
      String(call.maxWait ?? 0),
    ].map(String),
  };
}

function settle(at: number, l: Limits, back: { requests?: number; input?: number }): ScriptStep {
  return {
    at,
    script: 'settle',
    argv: [
      l.requests === undefined ? '0' : String(l.requests[0] / 1000),
      String(back.requests ?? 0),
      perMs(l.input),
      String(back.input ?? 0),
      perMs(l.output),
      '0',
    ],
  };
}

const pause = (at: number, ms: number): ScriptStep => ({ at, script: 'pause', argv: [String(ms)] });

const R1 = { requests: [1, 3] } as const satisfies Limits;
const TOKENS = { input: 600 } as const satisfies Limits;

/** [name, steps, expected answers]; an answer is [wait ms, reason, charged] or a number. */
const CASES: readonly (readonly [string, readonly Step[], readonly unknown[]])[] = [
  [
    'admits a burst at once, then refuses with the time to the next request',
    [admit(0, R1), admit(0, R1), admit(0, R1), admit(0, R1)],
    [
      [0, 0, 1],
      [0, 0, 1],
      [0, 0, 1],
      [1000, 0, 0],
    ],
  ],
  [
    'refills at the rate',
    [admit(0, R1), admit(0, R1), admit(0, R1), admit(500, R1), admit(1000, R1)],
    [
      [0, 0, 1],
      [0, 0, 1],
      [0, 0, 1],
      [500, 0, 0],
      [0, 0, 1],
    ],
  ],
  [
    'charges ahead up to maxWait, each waiter behind the one before (onLimit: Wait)',
    [
      admit(0, { requests: [1, 1] }, { maxWait: 1500 }),
      admit(0, { requests: [1, 1] }, { maxWait: 1500 }),
      admit(0, { requests: [1, 1] }, { maxWait: 1500 }),
    ],
    [
      [0, 0, 1],
      [1000, 0, 1],
      [2000, 0, 0],
    ],
  ],
  [
    'lets a call costlier than the whole budget go on a full one, and the debt holds the next',
    [admit(0, TOKENS, { input: 1000 }), admit(0, TOKENS, { input: 10 })],
    [
      [0, 0, 1],
      [41000, 1, 0],
    ],
  ],
  [
    'gives back what a call did not use, never above the capacity',
    [
      admit(0, TOKENS, { input: 600 }),
      admit(0, TOKENS, { input: 100 }),
      settle(0, TOKENS, { input: 500 }),
      admit(0, TOKENS, { input: 100 }),
      settle(0, TOKENS, { input: 100_000 }),
      admit(0, TOKENS, { input: 600 }),
    ],
    [[0, 0, 1], [10000, 1, 0], 1, [0, 0, 1], 1, [0, 0, 1]],
  ],
  [
    'charges what a call used beyond its reservation',
    [
      admit(0, TOKENS, { input: 100 }),
      settle(0, TOKENS, { input: -500 }),
      admit(0, TOKENS, { input: 100 }),
    ],
    [[0, 0, 1], 1, [10000, 1, 0]],
  ],
  [
    'holds every call through a provider pause, which only ever moves later',
    [pause(0, 2000), admit(0, R1), pause(0, 500), admit(0, R1)],
    [2000, [2000, 3, 0], 2000, [2000, 3, 0]],
  ],
  [
    "counts the replica's own pacing wait in the same decision",
    [admit(0, R1, { localWait: 300 })],
    [[300, 3, 0]],
  ],
  [
    'charges a call everywhere or nowhere: a refusal for tokens leaves the requests untouched',
    [
      admit(0, { requests: [1, 2], output: 100 }, { output: 100 }),
      admit(0, { requests: [1, 2], output: 100 }, { output: 100 }),
      admit(0, { requests: [1, 2], output: 100 }, { output: 0 }),
      admit(0, { requests: [1, 2], output: 100 }, { output: 0 }),
    ],
    [
      [0, 0, 1],
      [60000, 2, 0],
      [0, 0, 1],
      [1000, 0, 0],
    ],
  ],
  [
    'gives a whole request back for a call that never went out',
    [
      admit(0, { requests: [1, 1] }),
      admit(0, { requests: [1, 1] }),
      settle(0, { requests: [1, 1] }, { requests: 1 }),
      admit(0, { requests: [1, 1] }),
    ],
    [[0, 0, 1], [1000, 0, 0], 1, [0, 0, 1]],
  ],
  [
    'lets its keys expire once their buckets are full again',
    [
      admit(0, { requests: [1, 2], input: 600 }, { input: 60 }),
      pause(0, 300),
      { at: 0, live: true },
      { at: 400, live: true },
      { at: 1001, live: true },
      { at: 6001, live: true },
    ],
    [[0, 0, 1], 300, 3, 2, 1, 0],
  ],
];

/** Whether a case holds on a real server, whose clock moves on by itself. */
const timeless = (steps: readonly Step[]): boolean =>
  steps.every((s) => s.at === 0 && !('live' in s));

function luaValue(value: unknown): string {
  if (Array.isArray(value)) return `{${value.map(luaValue).join(', ')}}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

describe('the store scripts under lua5.1', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bw-lua-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES)('%s', (name, steps, expected) => {
    const file = join(dir, `${name.replace(/\W+/g, '-')}.lua`);
    const table = steps.map((s) =>
      'live' in s
        ? `{at = ${String(s.at)}, live = true}`
        : `{at = ${String(s.at)}, script = ${luaValue(s.script)}, keys = ${luaValue(keysFor(s.script))}, argv = ${luaValue(s.argv)}}`,
    );
    writeFileSync(file, `return {\n${table.join(',\n')}\n}\n`);
    const run = spawnSync('lua5.1', [RUNNER, SCRIPTS_DIR, file], { encoding: 'utf8' });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    const answers = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
    expect(answers).toEqual(expected);
  });
});

describe('the store scripts on redis-server', () => {
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
    /** Per answer: how long after the first step began it was given, in ms. */
    const since: number[] = [];
    const began = performance.now();
    for (const step of steps) {
      if ('live' in step) continue;
      const script = SCRIPTS[step.script];
      if (script === undefined) throw new Error(`no script ${step.script}`);
      answers.push(await runScript(client, script, keysFor(step.script), [...step.argv]));
      since.push(performance.now() - began);
    }
    // The server's clock runs on between steps: a wait may be shorter by as much as has passed
    // since the first step (a few ms, more on a busy machine), and a pause's end is an absolute
    // time. Everything else is exact.
    expect(answers.length).toBe(expected.length);
    answers.forEach((answer, i) => {
      const want = expected[i];
      if (Array.isArray(want) && Array.isArray(answer)) {
        expect(answer.slice(1)).toEqual(want.slice(1));
        expect(Number(answer[0])).toBeLessThanOrEqual(Number(want[0]));
        const passed = Math.ceil(since[i] ?? 0) + 1;
        expect(Number(answer[0])).toBeGreaterThanOrEqual(Math.max(0, Number(want[0]) - passed));
      } else if (steps[i] !== undefined && 'script' in steps[i] && steps[i].script === 'pause') {
        expect(Number(answer)).toBeGreaterThan(Date.now() - 60_000);
      } else {
        expect(answer).toEqual(want);
      }
    });
  });

  it('sends the script again when the server has forgotten it (NOSCRIPT)', async () => {
    await client.flushAll();
    await client.scriptFlush();
    const answer = await runScript(client, ADMIT_SCRIPT, KEYS, admit(0, R1).argv as string[]);
    expect(answer).toEqual([0, 0, 1]);
    expect(await client.scriptExists(ADMIT_SCRIPT.sha)).toEqual([1]);
  });
});

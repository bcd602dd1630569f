/**
 * Budgets in the store's scripts (budget.lua in front of admit.lua and settle.lua), case by
 * case: what each call answers and what an account holds after. Run under the real `lua5.1`
 * with a clock the test sets (budgetScripts.unit.test.ts) and on a real redis-server for the
 * cases that need no time to pass (budgetScripts.test.ts); the same expectations hold for both.
 *
 * Amounts past 2^53 picodollars (9,007 dollars) are the point: a double would add 1 to
 * 9007199254740992 and get 9007199254740992 back.
 */
import { spawnSync } from 'node:child_process';
import { moneyToScriptArgs } from '../../contract/src/spend/money.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCRIPTS_DIR = fileURLToPath(
  new URL('../../runtime/src/rateLimitStore', import.meta.url),
);
const RUNNER = fileURLToPath(new URL('./scriptRunner.lua', import.meta.url));

const LIMIT_KEYS = ['t:requests', 't:input', 't:output', 't:pause'];
/** Far in the future: epoch ms an account is kept until when a case does not say. */
const KEPT = 10_000_000_000_000;

/** Picodollars (a decimal string) as the scripts take and keep them: micro, then pico past it. */
const money = (pico: string): [string, string] => moneyToScriptArgs(BigInt(pico));

/** One budget account: its limits (decimal strings), Shadow or refusing, kept until. */
export interface Acct {
  readonly key: string;
  readonly pico?: string;
  readonly tokens?: string;
  readonly shadow?: boolean;
  readonly keep?: number;
}

export interface ScriptStep {
  readonly at: number;
  readonly script: 'admit' | 'settle';
  readonly keys: readonly string[];
  readonly argv: readonly string[];
}
export type Step =
  | ScriptStep
  | { readonly at: number; readonly live: true }
  | { readonly at: number; readonly hash: string };

export const hashKey = (a: Acct): string => `t:budget:${a.key}`;
const accountKeys = (accounts: readonly Acct[]): string[] => accounts.map(hashKey);

export function admit(
  at: number,
  accounts: readonly Acct[],
  call: {
    readonly id: string;
    readonly pico: string;
    readonly tokens?: string;
    readonly lease?: number;
    /** Requests per second and burst, for the cases where a limit decides too. */
    readonly requests?: readonly [number, number];
    readonly limitsShadow?: boolean;
    /** An earlier call's settlement riding in front of this admission. */
    readonly settling?: { readonly accounts: readonly Acct[]; readonly s: Settlement };
  },
): ScriptStep {
  const r = call.requests;
  const riding = call.settling;
  const keys = [...LIMIT_KEYS, ...accountKeys(accounts)];
  const settling =
    riding === undefined ? [] : ['1', ...settlementArgs(keys, riding.accounts, riding.s)];
  return {
    at,
    script: 'admit',
    keys,
    argv: [
      r === undefined ? '0' : String(r[0] / 1000),
      String(r?.[1] ?? 0),
      '1',
      ...['0', '0', '0', '0', '0', '0'],
      '0',
      '0',
      String(accounts.length),
      call.id,
      String(call.lease ?? 60_000),
      ...money(call.pico),
      call.tokens ?? '0',
      call.limitsShadow === true ? '1' : '0',
      ...accounts.flatMap((a) => [
        ...(a.pico === undefined ? ['', ''] : money(a.pico)),
        a.tokens ?? '',
        String(a.keep ?? KEPT),
        a.shadow === true ? '0' : '1',
      ]),
      ...settling,
    ],
  };
}

interface Settlement {
  readonly id: string;
  /** Its `settled` marker's key: `t:settled:<id>` when not given. */
  readonly marker?: string;
  readonly worstPico: string;
  readonly worstTokens?: string;
  readonly pico: string;
  readonly tokens?: string;
}

/**
 * A settlement's arguments: its amounts, then per account its hash's place in `keys` (KEYS,
 * 1-based) and when it is kept until, then its `settled` marker's place. A key not in `keys`
 * yet is appended to it, as the runtime does (storeScriptCalls.ts's pushSettlements).
 */
function settlementArgs(keys: string[], accounts: readonly Acct[], s: Settlement): string[] {
  const at = (key: string) => {
    const i = keys.indexOf(key);
    return String(i === -1 ? keys.push(key) : i + 1);
  };
  return [
    String(accounts.length),
    s.id,
    ...money(s.worstPico),
    s.worstTokens ?? '0',
    ...money(s.pico),
    s.tokens ?? '0',
    ...accounts.flatMap((a) => [at(hashKey(a)), String(a.keep ?? KEPT)]),
    String(keys.push(s.marker ?? `t:settled:${s.id}`)),
  ];
}

export function settle(at: number, accounts: readonly Acct[], s: Settlement): ScriptStep {
  const keys = LIMIT_KEYS.slice(0, 3);
  return {
    at,
    script: 'settle',
    keys,
    argv: [...['0', '0', '0', '0', '0', '0'], '1', ...settlementArgs(keys, accounts, s)],
  };
}

const hash = (at: number, a: Acct): Step => ({ at, hash: hashKey(a) });

/** A lease as the account's hash holds it: when it ends, and the worst case it holds. */
const lease = (endsAt: number, pico: string, tokens = '0'): string =>
  [String(endsAt), ...money(pico), tokens].join(':');

/**
 * An account's hash as the scripts write it: its amounts, the epoch ms before which none of
 * its leases ends (`lapseAt`), the ms its key is kept until (PEXPIREAT set once) and its
 * leases by reservation id.
 */
const holds = (
  lapseAt: string,
  spentPico: string,
  reservedPico: string,
  spentTokens = '0',
  reservedTokens = '0',
  leases: Record<string, string> = {},
) => ({
  ...Object.fromEntries(Object.entries(leases).map(([id, value]) => [`lease:${id}`, value])),
  spent_micro: money(spentPico)[0],
  spent_pico: money(spentPico)[1],
  reserved_micro: money(reservedPico)[0],
  reserved_pico: money(reservedPico)[1],
  spent_tokens: spentTokens,
  reserved_tokens: reservedTokens,
  lapse_at: lapseAt,
  keep_until: String(KEPT),
});

/** admit.lua's answer: limits, held, refused by, then per account its state and six amounts. */
const answer = (
  limits: readonly [number, number, number],
  held: 0 | 1,
  refusedBy: number,
  ...accounts: (readonly [number, string, string, string?, string?])[]
): unknown[] => [
  ...limits,
  held,
  refusedBy,
  ...accounts.flatMap(([state, spent, reserved, spentTokens, reservedTokens]) => [
    state,
    ...money(spent).map(Number),
    ...money(reserved).map(Number),
    Number(spentTokens ?? '0'),
    Number(reservedTokens ?? '0'),
  ]),
];

const GO = [0, 0, 1] as const;
const BUDGET = [0, 4, 0] as const;
const TWO_53 = '9007199254740992';
const LARGEST = '999999999999000000'; // $999,999.999999, the largest budget the API takes

/** 2^53 + 3: as a double it would be 2^53 + 4, and a call that passes it by one would fit. */
const M: Acct = { key: 'a:monthly:0', pico: '9007199254740995' };
const L: Acct = { key: 'a:largest:0', pico: LARGEST };
const D: Acct = { key: 'a:daily:0', pico: '1000' };
const W: Acct = { key: 'a:weekly:0', pico: '500' };
const S: Acct = { key: 'a:watch:0', pico: '100', shadow: true };
const T: Acct = { key: 'a:both:0', pico: '1000000', tokens: '100' };
const SMALL: Acct = { key: 'a:small:0', pico: '100' };
/** Three microdollars: a case that crosses from picodollars into microdollars and back. */
const C: Acct = { key: 'a:carry:0', pico: '3000000' };

/** [name, steps, expected answers]: one answer per step (a hash step answers its fields). */
export const CASES: readonly (readonly [string, readonly Step[], readonly unknown[]])[] = [
  [
    'holds worst cases up to the limit exactly past 2^53 picodollars, and refuses the next',
    [
      admit(0, [M], { id: 'a', pico: TWO_53 }),
      admit(0, [M], { id: 'b', pico: '3' }),
      admit(0, [M], { id: 'c', pico: '1' }),
    ],
    [
      answer(GO, 1, 0, [0, '0', TWO_53]),
      answer(GO, 1, 0, [0, '0', '9007199254740995']),
      answer(BUDGET, 0, 1, [2, '0', '9007199254740995']),
    ],
  ],
  [
    'settles the real cost and releases the worst case, exactly, at the largest budget',
    [
      admit(0, [L], { id: 'a', pico: LARGEST }),
      settle(0, [L], { id: 'a', worstPico: LARGEST, pico: '999999999998999999' }),
      admit(0, [L], { id: 'b', pico: '2' }),
      admit(0, [L], { id: 'c', pico: '1' }),
      hash(0, L),
    ],
    [
      answer(GO, 1, 0, [0, '0', LARGEST]),
      [0, 1],
      answer(BUDGET, 0, 1, [2, '999999999998999999', '0']),
      answer(GO, 1, 0, [0, '999999999998999999', '1']),
      holds('60000', '999999999998999999', '1', '0', '0', { c: lease(60_000, '1') }),
    ],
  ],
  [
    'decides two budgets all or nothing: the one that fits takes nothing when the other refuses',
    [
      admit(0, [D, W], { id: 'a', pico: '400' }),
      admit(0, [D, W], { id: 'b', pico: '200' }),
      hash(0, D),
      admit(0, [D, W], { id: 'c', pico: '100' }),
    ],
    [
      answer(GO, 1, 0, [0, '0', '400'], [0, '0', '400']),
      answer(BUDGET, 0, 2, [0, '0', '400'], [2, '0', '400']),
      holds('60000', '0', '400', '0', '0', { a: lease(60_000, '400') }),
      answer(GO, 1, 0, [0, '0', '500'], [0, '0', '500']),
    ],
  ],
  [
    'counts a Shadow budget over its limit and lets the call go',
    [admit(0, [D, S], { id: 'a', pico: '150' })],
    [answer(GO, 1, 0, [0, '0', '150'], [1, '0', '150'])],
  ],
  [
    'limits tokens as it limits dollars, in the same account',
    [
      admit(0, [T], { id: 'a', pico: '10', tokens: '60' }),
      admit(0, [T], { id: 'b', pico: '10', tokens: '50' }),
    ],
    [answer(GO, 1, 0, [0, '0', '10', '0', '60']), answer(BUDGET, 0, 1, [2, '0', '10', '0', '60'])],
  ],
  [
    'takes no budget when a limit refuses, and holds it when a Shadow limiter lets the call go',
    [
      admit(0, [D], { id: 'a', pico: '100', requests: [1, 1] }),
      admit(0, [D], { id: 'b', pico: '100', requests: [1, 1] }),
      admit(0, [D], { id: 'c', pico: '100', requests: [1, 1], limitsShadow: true }),
    ],
    [
      answer(GO, 1, 0, [0, '0', '100']),
      answer([1000, 0, 0], 0, 0, [0, '0', '100']),
      answer([1000, 0, 0], 1, 0, [0, '0', '200']),
    ],
  ],
  [
    'charges a lapsed lease at its worst case on the next admission: a replica that died mid-call holds nothing',
    [
      admit(0, [SMALL], { id: 'a', pico: '60', lease: 1000 }),
      admit(999, [SMALL], { id: 'b', pico: '60', lease: 1000 }),
      admit(1000, [SMALL], { id: 'c', pico: '40', lease: 1000 }),
      admit(1000, [SMALL], { id: 'd', pico: '1', lease: 1000 }),
      hash(1000, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '60']),
      answer(BUDGET, 0, 1, [2, '0', '60']),
      answer(GO, 1, 0, [0, '60', '40']),
      answer(BUDGET, 0, 1, [2, '60', '40']),
      { ...holds('2000', '60', '40', '0', '0', { c: lease(2000, '40') }), 'lapsed:a': '1' },
    ],
  ],
  [
    'charges a shorter lease held after a longer one when it ends: the hint is the earliest end',
    [
      admit(0, [SMALL], { id: 'a', pico: '30', lease: 5000 }),
      admit(100, [SMALL], { id: 'b', pico: '30', lease: 1000 }),
      admit(1099, [SMALL], { id: 'c', pico: '50' }),
      admit(1100, [SMALL], { id: 'd', pico: '40' }),
      hash(1100, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '30']),
      answer(GO, 1, 0, [0, '0', '60']),
      answer(BUDGET, 0, 1, [2, '0', '60']),
      answer(GO, 1, 0, [0, '30', '70']),
      {
        ...holds('5000', '30', '70', '0', '0', { a: lease(5000, '30'), d: lease(61_100, '40') }),
        'lapsed:b': '1',
      },
    ],
  ],
  [
    "corrects a lapsed lease's charge to the cost when its settlement comes after all, once, and releases nothing twice",
    [
      admit(0, [SMALL], { id: 'a', pico: '50', lease: 1000 }),
      admit(1500, [SMALL], { id: 'c', pico: '40', lease: 1000 }),
      settle(1600, [SMALL], { id: 'a', worstPico: '50', pico: '30' }),
      hash(1600, SMALL),
      settle(1650, [SMALL], { id: 'a', worstPico: '50', pico: '0' }),
      settle(1700, [SMALL], { id: 'c', worstPico: '40', pico: '35' }),
      settle(1700, [SMALL], { id: 'c', worstPico: '40', pico: '0' }),
      hash(1700, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '50']),
      answer(GO, 1, 0, [0, '50', '40']),
      [0, 0],
      holds('2500', '30', '40', '0', '0', { c: lease(2500, '40') }),
      [0, 0],
      [0, 1],
      // Sent again: the first answer, and nothing released or charged twice.
      [0, 1],
      holds('2500', '65', '0'),
    ],
  ],
  [
    'charges a settlement sent again after its answer was lost once, alone or riding, and answers as the first did',
    [
      admit(0, [SMALL], { id: 'a', pico: '60' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '25' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '25' }),
      admit(0, [SMALL], {
        id: 'b',
        pico: '10',
        settling: { accounts: [SMALL], s: { id: 'a', worstPico: '60', pico: '25' } },
      }),
      hash(0, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '60']),
      [0, 1],
      [0, 1],
      answer(GO, 1, 0, [0, '25', '10']),
      holds('60000', '25', '10', '0', '0', { b: lease(60_000, '10') }),
    ],
  ],
  [
    "corrects a lapsed lease's charge once when its settlement is sent again after a lost answer",
    [
      admit(0, [SMALL], { id: 'a', pico: '50', lease: 1000 }),
      admit(1500, [SMALL], { id: 'c', pico: '40', lease: 1000 }),
      settle(1600, [SMALL], { id: 'a', worstPico: '50', pico: '30' }),
      settle(1700, [SMALL], { id: 'a', worstPico: '50', pico: '30' }),
      hash(1700, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '50']),
      answer(GO, 1, 0, [0, '50', '40']),
      [0, 0],
      [0, 0],
      holds('2500', '30', '40', '0', '0', { c: lease(2500, '40') }),
    ],
  ],
  [
    "settles a late admission's release and the call's own cost under one reservation, each once",
    [
      admit(0, [SMALL], { id: 'a', pico: '60' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '0', marker: 't:settled:a:late' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '25' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '0', marker: 't:settled:a:late' }),
      settle(0, [SMALL], { id: 'a', worstPico: '60', pico: '25' }),
      hash(0, SMALL),
    ],
    [answer(GO, 1, 0, [0, '0', '60']), [0, 1], [0, 0], [0, 1], [0, 0], holds('60000', '25', '0')],
  ],
  [
    'applies a settlement riding in front of an admission before deciding it',
    [
      admit(0, [SMALL], { id: 'a', pico: '100' }),
      admit(0, [SMALL], {
        id: 'b',
        pico: '70',
        settling: { accounts: [SMALL], s: { id: 'a', worstPico: '100', pico: '30' } },
      }),
      hash(0, SMALL),
    ],
    [
      answer(GO, 1, 0, [0, '0', '100']),
      answer(GO, 1, 0, [0, '30', '70']),
      holds('60000', '30', '70', '0', '0', { b: lease(60_000, '70') }),
    ],
  ],
  [
    'carries and borrows across the microdollar: money is two whole numbers in the store',
    [
      admit(0, [C], { id: 'a', pico: '1500000' }),
      admit(0, [C], { id: 'b', pico: '700000' }),
      settle(0, [C], { id: 'a', worstPico: '1500000', pico: '999999' }),
      hash(0, C),
      admit(0, [C], { id: 'c', pico: '1300001' }),
      admit(0, [C], { id: 'd', pico: '1' }),
    ],
    [
      answer(GO, 1, 0, [0, '0', '1500000']),
      answer(GO, 1, 0, [0, '0', '2200000']),
      [0, 1],
      holds('60000', '999999', '700000', '0', '0', { b: lease(60_000, '700000') }),
      answer(GO, 1, 0, [0, '999999', '2000001']),
      answer(BUDGET, 0, 1, [2, '999999', '2000001']),
    ],
  ],
  [
    "keeps an account until its period's end and a week, then lets it go",
    [
      admit(0, [{ ...SMALL, keep: 5000 }], { id: 'a', pico: '10' }),
      { at: 4999, live: true },
      { at: 5000, live: true },
    ],
    [answer(GO, 1, 0, [0, '0', '10']), 1, 0],
  ],
];

/** Whether a case holds on a real server, whose clock moves on by itself. */
export const timeless = (steps: readonly Step[]): boolean =>
  steps.every((s) => s.at === 0 && !('live' in s));

function luaValue(value: unknown): string {
  if (Array.isArray(value)) return `{${value.map(luaValue).join(', ')}}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * Runs `steps` under lua5.1 (scriptRunner.lua) in `dir`; one parsed answer per step. `general`:
 * every admission the general way, never budget.lua's path for the common call.
 */
export function runUnderLua(
  dir: string,
  name: string,
  steps: readonly Step[],
  general = false,
): unknown[] {
  const file = join(dir, `${name.replace(/\W+/g, '-')}.lua`);
  const table = steps.map((s) => {
    if ('live' in s) return `{at = ${String(s.at)}, live = true}`;
    if ('hash' in s) return `{at = ${String(s.at)}, hash = ${luaValue(s.hash)}}`;
    return `{at = ${String(s.at)}, script = ${luaValue(s.script)}, keys = ${luaValue(s.keys)}, argv = ${luaValue(s.argv)}}`;
  });
  writeFileSync(file, `return {\n${table.join(',\n')}\n}\n`);
  const run = spawnSync('lua5.1', [RUNNER, SCRIPTS_DIR, file, ...(general ? ['general'] : [])], {
    encoding: 'utf8',
  });
  if (run.error !== undefined) throw run.error;
  if (run.stderr !== '') throw new Error(run.stderr);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

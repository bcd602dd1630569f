/**
 * The Lua calls of the store, as data: the keys one limiter's scripts take, the
 * limits passed as ARGV, and admit.lua's reply read back. The connection that runs them is
 * redisStore.ts's.
 */
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import { moneyFromScript, moneyToScriptArgs } from '../../../contract/src/spend/money.ts';
import type { RateLimitReason } from '../guard/errors.ts';
import type {
  StoreAccountState,
  StoreAdmission,
  StoreAdmitRequest,
  StoreBudgetAccount,
  StoreBudgetRequest,
  StoreBudgetRenewal,
  StoreBudgetSettlement,
  StoreBudgetVerdict,
  StoreSettlement,
} from '../guard/rateLimitStore.ts';

/** admit.lua's reason codes, in its order. */
const REASONS: readonly (RateLimitReason | 'budget')[] = [
  'requests',
  'inputTokens',
  'outputTokens',
  'provider',
  'budget',
];
/** admit.lua's account states (budget.lua's budgetCheck), in its order. */
const STATES: readonly StoreAccountState['state'][] = ['fits', 'shadowOver', 'refuses'];
/** Values per account in admit.lua's answer: its state and six amounts. */
const PER_ACCOUNT = 7;

/**
 * The release of what an admission of `b` may have held, at zero cost, under a `settled` marker
 * of its own (settledKey): a late answer's, or an admission's whose answer was lost.
 */
export function releaseOf(b: StoreBudgetRequest): StoreBudgetSettlement {
  return {
    accounts: b.accounts,
    reservationId: b.reservationId,
    worstPico: b.worstPico,
    worstTokens: b.worstTokens,
    costPico: 0n,
    costTokens: 0n,
    lateRelease: true,
  };
}

/**
 * What to put right for admit.lua's answer to `request` when it came after the call was
 * decided on the local share. The limits end up counting the call exactly when it went
 * (`request.wentOnShare`): a charge for a call the share refused is given back, a call the
 * share let go keeps the store's charge, or is charged now where the store had refused it
 * (into debt, as settle.lua allows). Given back whatever it went, before (R3 in
 * docs/guarantees.md): every late answer a replica whose share was full met added a call the
 * store never counted, and a starved CPU made them frequent. The budget worst case the answer
 * held is released at zero cost either way (the call, if it went, settles its cost under the
 * same reservation; a release found done charges nothing more, budget.lua).
 */
export function lateAdmissionUndo(
  request: StoreAdmitRequest,
  reply: unknown,
): { readonly limits?: StoreSettlement; readonly budget?: StoreBudgetSettlement } {
  const b = request.budget;
  const late = admission(reply, b?.accounts.length ?? 0);
  // 1: give the charge back; -1: charge the call; 0: the store already counts it right.
  const back = (late.charged ? 1 : 0) - (request.wentOnShare === true ? 1 : 0);
  const { inputTokens, outputTokens } = request.estimate;
  return {
    ...(back === 0
      ? {}
      : {
          limits: {
            requests: back,
            inputTokens: back * inputTokens,
            outputTokens: back * outputTokens,
          },
        }),
    ...(b !== undefined && late.budget?.held === true ? { budget: releaseOf(b) } : {}),
  };
}

/**
 * admit.lua's answer: {wait, reason, charged} for limits alone, and with `accounts` budget
 * accounts asked, then {held, refused by, …seven values per account}.
 */
export function admission(reply: unknown, accounts = 0): StoreAdmission {
  const want = accounts === 0 ? 3 : 5 + PER_ACCOUNT * accounts;
  if (!Array.isArray(reply) || reply.length !== want) {
    throw new Error(
      `admit.lua answered ${JSON.stringify(reply)}, not ${String(want)} values for ${String(accounts)} budget accounts`,
    );
  }
  const values = reply as unknown[];
  const [wait, reason, charged] = values;
  const limits = {
    waitMs: Number(wait),
    reason: REASONS[Number(reason)] ?? 'requests',
    charged: Number(charged) === 1,
  };
  return accounts === 0 ? limits : { ...limits, budget: verdict(values) };
}

function verdict(values: readonly unknown[]): StoreBudgetVerdict {
  const refused = Number(values[4]);
  const accounts: StoreAccountState[] = [];
  for (let at = 5; at < values.length; at += PER_ACCOUNT)
    accounts.push(new ScriptAccount(values, at));
  return {
    held: Number(values[3]) === 1,
    refusedBy: refused > 0 ? refused - 1 : undefined,
    accounts,
  };
}

/**
 * One account in admit.lua's answer. Its amounts are checked when it is read back (a budget
 * read wrong must not pass for zero) and made BigInts only when asked for: a call that fits
 * reads none of them (the ledger keeps the answer for the metrics' scrape, StoreView).
 */
class ScriptAccount implements StoreAccountState {
  readonly state: StoreAccountState['state'];
  readonly #values: readonly unknown[];
  readonly #at: number;

  constructor(values: readonly unknown[], at: number) {
    this.state = STATES[Number(values[at])] ?? 'refuses';
    for (let i = at + 1; i <= at + 6; i++) whole(values[i]);
    picoPast(values[at + 2]);
    picoPast(values[at + 4]);
    this.#values = values;
    this.#at = at;
  }

  get spentPico(): bigint {
    return moneyFromScript(this.#values[this.#at + 1], this.#values[this.#at + 2]);
  }

  get reservedPico(): bigint {
    return moneyFromScript(this.#values[this.#at + 3], this.#values[this.#at + 4]);
  }

  get spentTokens(): bigint {
    return BigInt(this.#values[this.#at + 5] as number);
  }

  get reservedTokens(): bigint {
    return BigInt(this.#values[this.#at + 6] as number);
  }
}

/** The picodollars past an amount's microdollars: fewer than a microdollar's. */
function picoPast(value: unknown): void {
  if ((value as number) >= 1_000_000)
    throw new Error(
      `a budget amount from the store has ${String(value)} picodollars past its microdollars`,
    );
}

/** A whole number from the script (Redis hands a Lua number to a client as an integer). */
function whole(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new Error(`a budget amount from the store is not a whole number: ${JSON.stringify(value)}`);
}

/** Each account's hash (its leases are fields of it), in the order the scripts take them after the limits'. */
export function budgetKeys(prefix: string, accounts: readonly StoreBudgetAccount[]): string[] {
  return accounts.map((a) => `${a.keyPrefix ?? prefix}:budget:${a.key}`);
}

const NO_LIMIT = ['', ''] as const;

/**
 * What the scripts take of one account: the same for every call of its period, so made once
 * per account (BudgetLedger keeps one StoreBudgetAccount per account and limits) and key prefix.
 */
interface AccountArgs {
  readonly prefix: string;
  /** The account's hash. */
  readonly key: string;
  /** Its limit in microdollars and picodollars past them, tokens, kept until, refuses. */
  readonly admit: readonly [string, string, string, string, string];
}

const ACCOUNT_ARGS = new WeakMap<StoreBudgetAccount, AccountArgs>();

function accountArgs(a: StoreBudgetAccount, prefix: string): AccountArgs {
  const made = ACCOUNT_ARGS.get(a);
  if (made?.prefix === prefix) return made;
  const [micro, pico] = a.limitPico === undefined ? NO_LIMIT : moneyToScriptArgs(a.limitPico);
  const args: AccountArgs = {
    prefix,
    key: `${a.keyPrefix ?? prefix}:budget:${a.key}`,
    admit: [
      micro,
      pico,
      a.limitTokens === undefined ? '' : a.limitTokens.toString(),
      String(a.keepUntilMs),
      a.refuses ? '1' : '0',
    ],
  };
  ACCOUNT_ARGS.set(a, args);
  return args;
}

/** admit.lua's ARGV from 12 on (budget.lua's budgetCheck). */
export function budgetAdmitArgs(b: StoreBudgetRequest, limitsShadow: boolean): string[] {
  const args: string[] = [];
  pushBudgetAdmit(args, b, limitsShadow, { list: [], prefix: '' });
  return args;
}

/**
 * The call's budgets as admit.lua takes them, appended to its keys (each account's hash after
 * the limits') and ARGV (from 12 on). This runs on every call with a budget: what does not
 * change within a period is made once (accountArgs).
 */
export function pushBudgetAdmit(
  args: string[],
  b: StoreBudgetRequest,
  limitsShadow: boolean,
  keys: { readonly list: string[]; readonly prefix: string },
): void {
  const worst = moneyToScriptArgs(b.worstPico);
  args.push(
    String(b.accounts.length),
    b.reservationId,
    String(Math.ceil(b.leaseMs)),
    worst[0],
    worst[1],
    b.worstTokens.toString(),
    limitsShadow ? '1' : '0',
  );
  for (const a of b.accounts) {
    const made = accountArgs(a, keys.prefix);
    keys.list.push(made.key);
    args.push(...made.admit);
  }
}

/**
 * Settlements as admit.lua (after its budgets) and settle.lua (from ARGV 7) take them
 * (budget.lua's budgetSettleAll): the script's KEYS (`before`, then the settlements' keys not
 * in it yet), and their count and arguments.
 */
export function settlementCall(
  prefix: string,
  list: readonly StoreBudgetSettlement[],
  before: readonly string[] = [],
): { keys: string[]; args: string[] } {
  const keys = [...before];
  const args: string[] = [];
  pushSettlements(keys, args, prefix, list);
  return { keys, args };
}

/**
 * settle.lua's limit arguments (each limit's rate and amount) for a call's settlement;
 * undefined when it touches no limit the store keeps (settle.lua leaves a rate of 0 alone).
 */
export function limitSettlement(
  rates: readonly string[],
  amounts: StoreSettlement,
): string[] | undefined {
  const pairs = [
    [rates[0], amounts.requests],
    [rates[1], amounts.inputTokens],
    [rates[2], amounts.outputTokens],
  ] as const;
  if (pairs.every(([rate, amount]) => rate === '0' || amount === 0)) return undefined;
  return pairs.flatMap(([rate, amount]) => [rate ?? '0', String(amount)]);
}

/** settle.lua's limit arguments that leave every limit untouched (rate 0, amount 0). */
export const LIMITS_UNTOUCHED: readonly string[] = ['0', '0', '0', '0', '0', '0'];

/** renew.lua's keys and arguments: every renewal's accounts, reservation and lease. */
export function renewalCall(
  prefix: string,
  list: readonly StoreBudgetRenewal[],
): { keys: string[]; args: string[] } {
  const keys: string[] = [];
  const args = [String(list.length)];
  for (const r of list) {
    for (const a of r.accounts) keys.push(accountArgs(a, prefix).key);
    args.push(String(r.accounts.length), r.reservationId, String(Math.ceil(r.leaseMs)));
  }
  return { keys, args };
}

/**
 * settlementCall's keys and arguments appended to `keys` and `args` (admit.lua's riding ones):
 * per settlement its amounts, then per account its hash's place in KEYS and the epoch ms it is
 * kept until, then its `settled` marker's place in KEYS. A key already in `keys` (an
 * admission's own account, or another settlement's) is not listed again: KEYS still lists
 * every key the script touches, once.
 */
export function pushSettlements(
  keys: string[],
  args: string[],
  prefix: string,
  list: readonly StoreBudgetSettlement[],
): void {
  args.push(String(list.length));
  for (const s of list) {
    const [worstMicro, worstPico] = moneyToScriptArgs(s.worstPico);
    const [costMicro, costPico] = moneyToScriptArgs(s.costPico);
    args.push(
      String(s.accounts.length),
      s.reservationId,
      worstMicro,
      worstPico,
      s.worstTokens.toString(),
      costMicro,
      costPico,
      s.costTokens.toString(),
    );
    for (const a of s.accounts) {
      const made = accountArgs(a, prefix);
      args.push(String(keyAt(keys, made.key)), made.admit[3]);
    }
    args.push(String(keys.push(settledKey(prefix, s))));
  }
}

/** The 1-based place of `key` in `keys` (KEYS), appended when not there yet. */
function keyAt(keys: string[], key: string): number {
  const at = keys.indexOf(key);
  return at === -1 ? keys.push(key) : at + 1;
}

/**
 * A settlement's `settled` marker (budget.lua's budgetSettle): applied once, however often it
 * is sent. A late admission's release has its own, since the call settles its cost under the
 * same reservation.
 */
export function settledKey(prefix: string, s: StoreBudgetSettlement): string {
  return `${prefix}:settled:${s.reservationId}${s.lateRelease === true ? ':late' : ''}`;
}

/** The keys of one limiter, in the order the scripts take them. */
export function keysOf(s: StoreSettings): string[] {
  const p = s.keyPrefix;
  return [`${p}:requests`, `${p}:input_tokens`, `${p}:output_tokens`, `${p}:provider_pause`];
}

/** admit.lua's ARGV 1-9 (rate per ms, capacity, cost per limit); costs filled per call. */
export function limitArgs(s: StoreSettings): string[] {
  const perMs = (perMinute: number | undefined) =>
    perMinute === undefined ? '0' : String(perMinute / 60_000);
  const cap = (n: number | undefined) => String(n ?? 0);
  return [
    s.requests === undefined ? '0' : String(s.requests.perSecond / 1000),
    cap(s.requests?.burst),
    '0',
    perMs(s.tokens?.inputPerMinute),
    cap(s.tokens?.inputPerMinute),
    '0',
    perMs(s.tokens?.outputPerMinute),
    cap(s.tokens?.outputPerMinute),
    '0',
  ];
}

export function settleRates(s: StoreSettings): string[] {
  const args = limitArgs(s);
  return [args[0] ?? '0', args[3] ?? '0', args[6] ?? '0'];
}

/**
 * The Lua calls of the store, as data: the keys one limiter's scripts take, the
 * limits passed as ARGV, and admit.lua's reply read back. The connection that runs them is
 * redisStore.ts's.
 */
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { RateLimitReason } from '../guard/errors.ts';
import type {
  StoreAccountState,
  StoreAdmission,
  StoreBudgetAccount,
  StoreBudgetRequest,
  StoreBudgetSettlement,
  StoreBudgetVerdict,
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
/** Values per account in admit.lua's answer. */
const PER_ACCOUNT = 5;

/**
 * admit.lua's answer: {wait, reason, charged} for limits alone, and with `accounts` budget
 * accounts asked, then {held, refused by, …five values per account}.
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
  for (let at = 5; at < values.length; at += PER_ACCOUNT) {
    accounts.push({
      state: STATES[Number(values[at])] ?? 'refuses',
      spentPico: amount(values[at + 1]),
      reservedPico: amount(values[at + 2]),
      spentTokens: amount(values[at + 3]),
      reservedTokens: amount(values[at + 4]),
    });
  }
  return {
    held: Number(values[3]) === 1,
    refusedBy: refused > 0 ? refused - 1 : undefined,
    accounts,
  };
}

/** A decimal string from the script, exactly (a number would lose what is past 2^53). */
function amount(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new Error(`a budget amount from the store is not a whole number: ${JSON.stringify(value)}`);
}

/** An account's hash and its leases, in the order the scripts take them after the limits'. */
export function budgetKeys(prefix: string, accounts: readonly StoreBudgetAccount[]): string[] {
  return accounts.flatMap((a) => {
    const key = `${prefix}:budget:${a.key}`;
    return [key, `${key}:leases`];
  });
}

/** admit.lua's ARGV from 12 on (budget.lua's budgetCheck). */
export function budgetAdmitArgs(b: StoreBudgetRequest, limitsShadow: boolean): string[] {
  const args = [
    String(b.accounts.length),
    b.reservationId,
    String(Math.ceil(b.leaseMs)),
    b.worstPico.toString(),
    b.worstTokens.toString(),
    limitsShadow ? '1' : '0',
  ];
  for (const a of b.accounts) {
    args.push(
      a.limitPico === undefined ? '' : a.limitPico.toString(),
      a.limitTokens === undefined ? '' : a.limitTokens.toString(),
      String(a.keepUntilMs),
      a.refuses ? '1' : '0',
    );
  }
  return args;
}

/**
 * Settlements as admit.lua (after its budgets) and settle.lua (from ARGV 7) take them
 * (budget.lua's budgetSettleAll): their keys, and their count and arguments.
 */
export function settlementCall(
  prefix: string,
  list: readonly StoreBudgetSettlement[],
): { keys: string[]; args: string[] } {
  return {
    keys: list.flatMap((s) => budgetKeys(prefix, s.accounts)),
    args: [String(list.length), ...list.flatMap(budgetSettleArgs)],
  };
}

/** One settlement's arguments (budget.lua's budgetSettle). */
export function budgetSettleArgs(s: StoreBudgetSettlement): string[] {
  return [
    String(s.accounts.length),
    s.reservationId,
    s.worstPico.toString(),
    s.worstTokens.toString(),
    s.costPico.toString(),
    s.costTokens.toString(),
    ...s.accounts.map((a) => String(a.keepUntilMs)),
  ];
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

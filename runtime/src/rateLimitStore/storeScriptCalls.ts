/**
 * The Lua calls of the store, as data: the keys one limiter's scripts take, the
 * limits passed as ARGV, and admit.lua's reply read back. The connection that runs them is
 * redisStore.ts's.
 */
import type { StoreSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { RateLimitReason } from '../guard/errors.ts';
import type { StoreAdmission } from '../guard/rateLimitStore.ts';

/** admit.lua's reason codes, in its order. */
const REASONS: readonly RateLimitReason[] = ['requests', 'inputTokens', 'outputTokens', 'provider'];

export function admission(reply: unknown): StoreAdmission {
  if (!Array.isArray(reply) || reply.length !== 3) {
    throw new Error(`admit.lua answered ${JSON.stringify(reply)}, not {wait, reason, charged}`);
  }
  const [wait, reason, charged] = reply as unknown[];
  return {
    waitMs: Number(wait),
    reason: REASONS[Number(reason)] ?? 'requests',
    charged: Number(charged) === 1,
  };
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

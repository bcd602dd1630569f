/**
 * What budgets (RateLimitPolicy `spec.budgets[]`) need of a request beyond its token estimate:
 * the caller's account when a budget counts per key (its identity's fingerprint; none for the
 * callers of an agent without client keys, who share one account), the request's size as the
 * most input tokens it can be, the longest prompt-cache lifetime its `cache_control` asks for
 * (its input may be written to the cache at that price), and what the provider adds to it and
 * bills itself (its tool-use system prompt, images, server tools' fees, web search results at
 * the policy's `webSearchResultTokens`). Nothing is built for an agent without budgets.
 */
import type { ProviderAdditions } from '../../../contract/src/spend/callCost.ts';
import type { BudgetRequest } from '../guard/budgetGate.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { requestAdditions } from '../../../contract/src/spend/requestAdditions.ts';

/** The guard declares it (guard/budgetGate.ts): what it hands the budgets with a call. */
export type { BudgetRequest };

const ONE_HOUR_TTL = /"ttl"\s*:\s*"1h"/;
/** A request may carry something the provider adds to or bills beyond its bytes. */
const MAY_ADD = /"(?:tools|image|document)"/;

export function budgetRequest(
  doc: PolicyDocument,
  /** The caller's fingerprint (access/callerIdentity.ts), asked for only when a budget needs it. */
  clientKey: () => string | undefined,
  /** The request body as sent (JSON text). */
  text: string,
  maxTokens?: number,
  /** `text` already parsed, when the caller has it: not parsed again. */
  parsed?: unknown,
): BudgetRequest | undefined {
  const spend = doc.rateLimit.spend;
  if (spend === undefined) return undefined;
  const perKey = spend.budgets.some((b) => b.per === 'ClientKey');
  // A name may be spelled with \u escapes, meaning to the provider what it spells: such a
  // body is read in the spelling JSON.stringify gives it, which escapes control characters only.
  const plain = text.includes('\\u') ? plainJson(text, parsed) : text;
  const cacheWrite = !plain.includes('"cache_control"')
    ? undefined
    : ONE_HOUR_TTL.test(plain)
      ? '1h'
      : '5m';
  // Parsed only when it may hold tools, images or documents: most calls hold none.
  const read = MAY_ADD.test(plain) ? additionsOf(plain, parsed) : undefined;
  // The policy's figure for each search's results goes with a call that may search.
  const perSearch = spend.webSearchResultTokens;
  const additions =
    read?.serverToolUses?.['web_search'] === undefined || perSearch === undefined
      ? read
      : { ...read, webSearchResultTokens: perSearch };
  return {
    ...(perKey ? { clientKey: clientKey() } : {}),
    ...(additions === undefined ? {} : { additions }),
    // No token is shorter than the byte that carries it.
    inputTokensAtMost: Buffer.byteLength(text),
    ...(maxTokens === undefined ? {} : { maxTokens }),
    ...(cacheWrite === undefined ? {} : { cacheWrite }),
  };
}

function plainJson(text: string, parsed: unknown): string {
  try {
    return JSON.stringify(parsed === undefined ? JSON.parse(text) : parsed);
  } catch {
    return text;
  }
}

function additionsOf(text: string, parsed: unknown): ProviderAdditions | undefined {
  try {
    return requestAdditions(parsed === undefined ? (JSON.parse(text) as unknown) : parsed);
  } catch {
    return undefined;
  }
}

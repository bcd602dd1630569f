import type { TokenUsage } from '../guard/tokenBudget.ts';
/**
 * An answer's token usage as the Messages API reports it, read defensively (a count that is not
 * a whole number of zero or more is absent), and what the guard prices it at. The stream's
 * usage is read by sseUsage.ts, event by event, with `mergeUsage`.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  /** Prompt-cache writes and reads, kept only when the answer reports some (budgets price them). */
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  /** Of the cache writes, those for one hour (priced higher than the five-minute ones). */
  cache_creation?: { ephemeral_1h_input_tokens?: number };
  /** Server tools the provider ran and bills a fee for each use of. */
  server_tool_use?: { web_search_requests?: number };
  /**
   * What the provider billed is not all known (callers settle the unknown at the worst case):
   * `fees`, a stream whose final usage never came (its output is counted from what was read,
   * and a margin, its server tools' uses are not); `output`, such a stream that relayed
   * thinking, which the API bills in full and may relay summarised (its output is not known
   * either: up to `max_tokens`, which thinking counts toward); `all`, an attempt the provider
   * may have billed that said nothing of it.
   */
  unknown?: 'fees' | 'output' | 'all';
}

/** The answer's usage in the guard's terms: its token budget, and its budgets' prices. */
export function tokenUsage(usage: Usage): TokenUsage {
  const written = usage.cache_creation_input_tokens;
  const read = usage.cache_read_input_tokens;
  const hour = usage.cache_creation?.ephemeral_1h_input_tokens;
  const searches = usage.server_tool_use?.web_search_requests;
  const unknown = usage.unknown;
  if (
    written === undefined &&
    read === undefined &&
    searches === undefined &&
    unknown === undefined
  )
    return { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens };
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    ...(written === undefined ? {} : { cacheWriteTokens: written }),
    ...(hour === undefined ? {} : { cacheWrite1hTokens: hour }),
    ...(read === undefined ? {} : { cacheReadTokens: read }),
    ...(searches === undefined ? {} : { webSearchRequests: searches }),
    ...(unknown === undefined ? {} : { unknown }),
  };
}

/**
 * A token count as a provider may report it: a whole number, zero or more. Anything else (a
 * fraction, a negative, a string) is read as absent: a budget prices counts exactly (bigint),
 * and a malformed answer must not make money or stop the settlement.
 */
function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Merges an event's usage into `into`. A `usage` that is null (a provider's JSON may say so)
 * merges nothing: reading its members threw, out of the stream tap and into the relay's read.
 */
export function mergeUsage(into: Usage, from: Partial<Usage> | null | undefined): void {
  if (from === undefined || from === null) return;
  if (isCount(from.input_tokens) && from.input_tokens > 0) into.input_tokens = from.input_tokens;
  if (isCount(from.output_tokens)) into.output_tokens = from.output_tokens;
  mergeCacheUsage(into, from);
}

/** The cache counts and server tool uses of `from`, when above zero (a later event repeats them). */
function mergeCacheUsage(into: Usage, from: Partial<Usage>): void {
  const searches = (from.server_tool_use as { web_search_requests?: unknown } | null | undefined)
    ?.web_search_requests;
  if (isCount(searches) && searches > 0) into.server_tool_use = { web_search_requests: searches };
  const written = from.cache_creation_input_tokens;
  if (isCount(written) && written > 0) into.cache_creation_input_tokens = written;
  const read = from.cache_read_input_tokens;
  if (isCount(read) && read > 0) into.cache_read_input_tokens = read;
  const hour = (from.cache_creation as { ephemeral_1h_input_tokens?: unknown } | null | undefined)
    ?.ephemeral_1h_input_tokens;
  if (isCount(hour) && hour > 0) into.cache_creation = { ephemeral_1h_input_tokens: hour };
}

/** Usage of a plain (non-streaming) answer; zeros when absent. */
export function usageOf(message: unknown): Usage {
  const u = (message as { usage?: Partial<Usage> | null } | null)?.usage;
  const usage: Usage = {
    input_tokens: isCount(u?.input_tokens) ? u.input_tokens : 0,
    output_tokens: isCount(u?.output_tokens) ? u.output_tokens : 0,
  };
  if (typeof u === 'object' && u !== null) mergeCacheUsage(usage, u);
  return usage;
}

/**
 * Usage of a plain answer, read from its text. The Messages API ends an answer with its
 * `usage` object, so only that object is parsed when it is the last member of the top-level
 * object; anything else (another order, a `usage` key inside the content) parses the whole
 * answer. Zeros when absent or unreadable.
 */
export function usageOfAnswer(text: string): Usage {
  const last = lastMemberObject(text, '"usage"', 1);
  if (last !== undefined) {
    try {
      return usageOf({ usage: JSON.parse(last) as unknown });
    } catch {
      // fall through to the whole answer
    }
  }
  try {
    return usageOf(JSON.parse(text) as unknown);
  } catch {
    return usageOf(undefined);
  }
}

/**
 * The text that is the object in `"key": {...}` if that object is the last member of the
 * object `depth` levels down the last members of `text` (1: the outermost object itself):
 * from the `{` after the last `"key":` to the `}` that `depth` closing braces (and nothing
 * else) follow at the text's end. It is only a candidate: the caller's JSON.parse of it
 * succeeds exactly when it is that member's whole object, for a parsed text is one object whose
 * last brace closes its first. When it fails (the last `"key"` is not the last member's, or is
 * nested deeper, or the text is no JSON) the caller parses more; a `"key"` inside a string
 * cannot match at all (its quotes would be escaped). Found from the text's end with a few
 * character reads and one `lastIndexOf`: a walk of the object's characters to its closing brace
 * cost as much as the JSON.parse that checks them anyway (about 0.45 µs of a plain answer and
 * of a stream's `message_start`, 0.24 of its `message_delta`, in a loop).
 */
export function lastMemberObject(
  text: string,
  quotedKey: string,
  depth: number,
): string | undefined {
  let close = text.length - 1;
  for (let closers = 0; ; closers++) {
    while (isSpace(text.charCodeAt(close))) close--;
    if (text.charCodeAt(close) !== CLOSE_BRACE) return undefined;
    if (closers === depth) break;
    close--;
  }
  const at = text.lastIndexOf(quotedKey, close);
  if (at < 0) return undefined;
  let i = at + quotedKey.length;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== COLON) return undefined;
  i++;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  return text.slice(i, close + 1);
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COLON = 0x3a;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

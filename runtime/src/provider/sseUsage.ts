/**
 * Reads token usage out of a Messages API event stream as the bytes pass through, without
 * holding the stream: only `message_start` and `message_delta` events are parsed, and only a
 * partial line is kept between chunks.
 */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

/** Every line the tap reads holds one of these (`"message_start"`, `"message_delta"`, `"error"`). */
const MESSAGE_MARKER = '"message_';
const ERROR_MARKER = '"error"';

export class SseUsageTap {
  readonly usage: Usage = { input_tokens: 0, output_tokens: 0 };
  /** The `error.type` of an `event: error` seen in the stream, if any. */
  errorType: string | undefined;
  #partial = '';
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.#partial = text;
      return;
    }
    // Most lines are content deltas that carry no usage: only lines holding one of the
    // markers are cut out and looked at, in the order they come.
    let message = text.indexOf(MESSAGE_MARKER);
    let error = text.indexOf(ERROR_MARKER);
    for (;;) {
      const at = message < 0 ? error : error < 0 ? message : Math.min(message, error);
      if (at < 0 || at > end) break;
      const stop = text.indexOf('\n', at);
      this.#line(text.slice(text.lastIndexOf('\n', at) + 1, stop));
      if (message >= 0 && message < stop) message = text.indexOf(MESSAGE_MARKER, stop);
      if (error >= 0 && error < stop) error = text.indexOf(ERROR_MARKER, stop);
    }
    this.#partial = text.slice(end + 1);
  }

  #line(line: string): void {
    if (!line.startsWith('data:')) return;
    // Cheap pre-filter: most events are content deltas that carry no usage.
    if (
      !line.includes('"message_start"') &&
      !line.includes('"message_delta"') &&
      !line.includes('"error"')
    )
      return;
    let event: StreamEvent;
    try {
      event = JSON.parse(line.slice(5)) as StreamEvent;
    } catch {
      return;
    }
    if (event.type === 'message_start') mergeUsage(this.usage, event.message?.usage);
    else if (event.type === 'message_delta') mergeUsage(this.usage, event.usage);
    else if (event.type === 'error') this.errorType = event.error?.type ?? 'api_error';
  }
}

interface StreamEvent {
  type?: string;
  message?: { usage?: Partial<Usage> };
  usage?: Partial<Usage>;
  error?: { type?: string };
}

function mergeUsage(into: Usage, from: Partial<Usage> | undefined): void {
  if (from === undefined) return;
  if (typeof from.input_tokens === 'number' && from.input_tokens > 0)
    into.input_tokens = from.input_tokens;
  if (typeof from.output_tokens === 'number') into.output_tokens = from.output_tokens;
}

/** Usage of a plain (non-streaming) answer; zeros when absent. */
export function usageOf(message: unknown): Usage {
  const u = (message as { usage?: Partial<Usage> } | null)?.usage;
  return {
    input_tokens: typeof u?.input_tokens === 'number' ? u.input_tokens : 0,
    output_tokens: typeof u?.output_tokens === 'number' ? u.output_tokens : 0,
  };
}

/**
 * Usage of a plain answer, read from its text. The Messages API ends an answer with its
 * `usage` object, so only that object is parsed when it is the last member of the top-level
 * object; anything else (another order, a `usage` key inside the content) parses the whole
 * answer. Zeros when absent or unreadable.
 */
export function usageOfAnswer(text: string): Usage {
  const last = lastMemberObject(text, '"usage"');
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
 * The text of `"key": {...}` when it is the last member of the outermost object of `text`:
 * the key's object is followed by nothing but the outermost closing brace. A `"key"` inside
 * a string cannot match (its quotes would be escaped); one in a nested object is followed by
 * more closers.
 */
function lastMemberObject(text: string, quotedKey: string): string | undefined {
  const at = text.lastIndexOf(quotedKey);
  if (at < 0) return undefined;
  let i = at + quotedKey.length;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text[i] !== ':') return undefined;
  i++;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text[i] !== '{') return undefined;
  const open = i;
  let depth = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) break;
  }
  if (depth !== 0) return undefined;
  let j = i + 1;
  while (isSpace(text.charCodeAt(j))) j++;
  if (text[j] !== '}') return undefined;
  j++;
  while (isSpace(text.charCodeAt(j))) j++;
  return j === text.length ? text.slice(open, i + 1) : undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

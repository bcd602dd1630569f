/**
 * What a call's prompt-cache affinity is keyed on, without keeping any of its text: a 53-bit
 * hash of the prompt prefix up to its last `cache_control` breakpoint (tools, then system, then
 * messages, as the API caches them), or of the session the caller names. A growing
 * conversation moves its breakpoint to the newest message on every turn, so the key of this
 * turn is not the key of the last one; as the API looks back up to 20 blocks from a
 * breakpoint for a prefix it holds, the lookup tries the hashes at those earlier block
 * boundaries too. `cache_control` itself is left out of the hash (the same block with or
 * without it is the same prefix).
 *
 * Cheap on the hot path: nothing is serialized for text blocks, other blocks once; a block of
 * more than 512 characters is hashed by its length, its first and last 192 characters and 128
 * spread through the middle (a system prompt of 50 KB costs what one of 512 characters does).
 * Two prefixes that differ only elsewhere would share a pin: the cost is a cache miss, never a
 * wrong answer. The hash is FNV-1a in two 32-bit lanes, folded to a safe integer.
 */

export const LOOKBACK_BLOCKS = 20;
export const FIVE_MINUTES_MS = 5 * 60_000;
export const ONE_HOUR_MS = 60 * 60_000;

export interface PrefixKeys {
  /** Where a pin is looked for, most specific first. */
  readonly lookup: readonly number[];
  /** Where this call's pin is kept (the first of `lookup`). */
  readonly pin: number;
  /** The cache's lifetime the request asks for: 1 h when a breakpoint says so, else 5 min. */
  readonly ttlMs: number;
}

type Json = Readonly<Record<string, unknown>>;

/**
 * The keys of a Messages request body, or undefined when it has nothing to keep warm (no
 * breakpoint and no session). `fiveMinuteTtlMs` is the five-minute cache's lifetime (the
 * runtime's `--prompt-cache-ttl-ms`; tests shorten it).
 */
export function prefixKeys(
  body: Json,
  session?: string,
  fiveMinuteTtlMs = FIVE_MINUTES_MS,
): PrefixKeys | undefined {
  const blocks = promptBlocks(body);
  let last = -1;
  let ttlMs = fiveMinuteTtlMs;
  for (let i = 0; i < blocks.length; i++) {
    const control = cacheControlOf(blocks[i]?.block);
    if (control === undefined) continue;
    last = i;
    if (control === '1h') ttlMs = ONE_HOUR_MS;
  }
  if (session !== undefined && session !== '') {
    const hash = new Fnv();
    hash.text('session');
    hash.text(session);
    const key = hash.key();
    return { lookup: [key], pin: key, ttlMs };
  }
  if (last < 0) return undefined;
  const hash = new Fnv();
  const first = Math.max(0, last - LOOKBACK_BLOCKS);
  const lookup: number[] = [];
  for (let i = 0; i <= last; i++) {
    const entry = blocks[i] as PromptBlock;
    hash.text(entry.role);
    hashBlock(hash, entry.block);
    if (i >= first) lookup.push(hash.key());
  }
  lookup.reverse();
  return { lookup, pin: lookup[0] ?? 0, ttlMs };
}

interface PromptBlock {
  /** Where the block sits: `t` tools, `s` system, or the message's role. */
  readonly role: string;
  readonly block: unknown;
}

/** The blocks in the order the API caches them: tools, system, messages. */
function promptBlocks(body: Json): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  const tools = body['tools'];
  if (Array.isArray(tools)) for (const tool of tools) blocks.push({ role: 't', block: tool });
  const system = body['system'];
  if (typeof system === 'string') blocks.push({ role: 's', block: system });
  else if (Array.isArray(system)) for (const b of system) blocks.push({ role: 's', block: b });
  const messages = body['messages'];
  if (!Array.isArray(messages)) return blocks;
  for (const message of messages as unknown[]) {
    if (typeof message !== 'object' || message === null) continue;
    const { role, content } = message as Json;
    const tag = typeof role === 'string' ? role : '?';
    if (Array.isArray(content)) for (const b of content) blocks.push({ role: tag, block: b });
    else blocks.push({ role: tag, block: content });
  }
  return blocks;
}

/** A breakpoint's lifetime, or undefined for a block that is not one. */
function cacheControlOf(block: unknown): '5m' | '1h' | undefined {
  if (typeof block !== 'object' || block === null) return undefined;
  const control = (block as Json)['cache_control'];
  if (typeof control !== 'object' || control === null) return undefined;
  return (control as Json)['ttl'] === '1h' ? '1h' : '5m';
}

/** A block without its `cache_control`: a text block by its text, any other by its JSON. */
function hashBlock(hash: Fnv, block: unknown): void {
  if (typeof block === 'string') {
    hash.text(block);
    return;
  }
  if (typeof block !== 'object' || block === null) {
    hash.text(String(block));
    return;
  }
  const b = block as Json;
  const text = b['text'];
  if (b['type'] === 'text' && typeof text === 'string') {
    hash.text('text');
    hash.text(text);
    return;
  }
  if (!('cache_control' in b)) {
    hash.text(JSON.stringify(b));
    return;
  }
  const { cache_control: _control, ...rest } = b;
  hash.text(JSON.stringify(rest));
}

/** Longer texts are sampled: their length, both ends and a stride through the middle. */
const WHOLE_TEXT = 512;
const END_CHARS = 192;
const MIDDLE_SAMPLES = 128;

/** FNV-1a over UTF-16 code units, two lanes with different offsets. */
class Fnv {
  #a = 0x811c9dc5;
  #b = 0x5bd1e995;

  text(text: string): void {
    const n = text.length;
    if (n <= WHOLE_TEXT) this.#range(text, 0, n, 1);
    else {
      this.#mix(n);
      this.#range(text, 0, END_CHARS, 1);
      const stride = Math.floor((n - 2 * END_CHARS) / MIDDLE_SAMPLES);
      this.#range(text, END_CHARS, END_CHARS + stride * MIDDLE_SAMPLES, stride);
      this.#range(text, n - END_CHARS, n, 1);
    }
    // A separator, so that ["ab","c"] and ["a","bc"] differ.
    this.#mix(0x1f);
  }

  #range(text: string, from: number, to: number, step: number): void {
    let a = this.#a;
    let b = this.#b;
    for (let i = from; i < to; i += step) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193);
    }
    this.#a = a;
    this.#b = b;
  }

  #mix(value: number): void {
    this.#a = Math.imul(this.#a ^ value, 0x01000193);
    this.#b = Math.imul(this.#b ^ (value >>> 3), 0x01000193);
  }

  /** The two lanes folded into one safe integer (32 + 21 bits). */
  key(): number {
    return (this.#a >>> 0) * 0x200000 + ((this.#b >>> 0) & 0x1fffff);
  }
}

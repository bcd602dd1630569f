import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/manualClock.ts';
import { minCacheableTokens, PromptCache } from './promptCache.ts';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import { estimateInputTokens } from './tokenEstimate.ts';

const MINUTE = 60_000;
/** 1200 tokens of system prompt at four characters a token: over Sonnet's minimum of 1024. */
const SYSTEM = 'Be exact. '.repeat(480);
const breakpoint = (ttl?: '1h') =>
  ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl };

/** Turn `n` of a conversation, the breakpoint on its newest user message (and on the system prompt). */
function turn(
  n: number,
  options: { ttl?: '1h'; topic?: string; model?: string } = {},
): MessagesRequest {
  const messages: unknown[] = [];
  for (let i = 1; i <= n; i++) {
    const text = `question ${String(i)} about ${options.topic ?? 'tides'}`;
    const block = { type: 'text', text };
    messages.push({
      role: 'user',
      content: [i === n ? { ...block, cache_control: breakpoint(options.ttl) } : block],
    });
    if (i < n) messages.push({ role: 'assistant', content: `answer number ${String(i)}` });
  }
  const parsed = parseMessagesRequest({
    model: options.model ?? 'claude-sonnet-4-5',
    max_tokens: 10,
    system: [{ type: 'text', text: SYSTEM, cache_control: breakpoint(options.ttl) }],
    messages,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.request;
}

function setup(minTokens?: number, fiveMinuteTtlMs?: number) {
  const clock = new ManualClock(0);
  const cache = new PromptCache({ clock, minTokens, fiveMinuteTtlMs });
  const serve = (account: string, request: MessagesRequest) => {
    const total = estimateInputTokens(request);
    const usage = cache.serve(account, request.model, request.segments, total);
    return { ...usage, total };
  };
  return { clock, cache, serve };
}

describe('PromptCache', () => {
  it('writes a prefix on the first turn and reads it on the next, writing only what is new', () => {
    const { serve } = setup();
    const first = serve('key-1', turn(1));
    expect(first.readTokens).toBe(0);
    expect(first.write5mTokens).toBe(first.total);
    const second = serve('key-1', turn(2));
    expect(second.readTokens).toBe(first.total);
    expect(second.write5mTokens).toBe(second.total - first.total);
  });

  it('keeps each account its own cache: another key writes it all again', () => {
    const { serve } = setup();
    serve('key-1', turn(1));
    const elsewhere = serve('key-2', turn(2));
    expect(elsewhere.readTokens).toBe(0);
    expect(elsewhere.write5mTokens).toBe(elsewhere.total);
  });

  it('shares the system prompt among conversations, and not their messages', () => {
    const { serve } = setup();
    serve('key-1', turn(1, { topic: 'tides' }));
    const other = serve('key-1', turn(1, { topic: 'comets' }));
    expect(other.readTokens).toBe(Math.ceil(SYSTEM.length / 4));
  });

  it.each<[string, number, number]>([
    ['read within five minutes of the last use', 5 * MINUTE - 1, 1],
    ['gone five minutes after the last use', 5 * MINUTE, 0],
  ])('a five-minute prefix is %s', (_name, wait, hits) => {
    const { serve, clock } = setup();
    serve('key-1', turn(1));
    clock.advance(wait);
    expect(serve('key-1', turn(2)).readTokens > 0 ? 1 : 0).toBe(hits);
  });

  it('renews a prefix on every read', () => {
    const { serve, clock } = setup();
    serve('key-1', turn(1));
    for (let n = 2; n <= 4; n++) {
      clock.advance(4 * MINUTE);
      expect(serve('key-1', turn(n)).readTokens).toBeGreaterThan(0);
    }
  });

  it('keeps a one-hour breakpoint for an hour and reports its writes apart', () => {
    const { serve, clock } = setup();
    const first = serve('key-1', turn(1, { ttl: '1h' }));
    expect(first).toMatchObject({ write5mTokens: 0, write1hTokens: first.total });
    clock.advance(59 * MINUTE);
    expect(serve('key-1', turn(2, { ttl: '1h' })).readTokens).toBe(first.total);
  });

  it('lets a shortened five-minute lifetime (--cache-ttl-ms) lapse, and leaves one hour as it is', () => {
    const { serve, clock } = setup(undefined, 2_000);
    serve('key-1', turn(1));
    serve('key-2', turn(1, { ttl: '1h' }));
    clock.advance(1_999);
    expect(serve('key-1', turn(2)).readTokens).toBeGreaterThan(0);
    clock.advance(2_000);
    expect(serve('key-1', turn(3)).readTokens).toBe(0);
    expect(serve('key-2', turn(2, { ttl: '1h' })).readTokens).toBeGreaterThan(0);
  });

  it('caches nothing shorter than the model minimum, without an error', () => {
    const { serve } = setup();
    const short = parseMessagesRequest({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: breakpoint() }] },
      ],
    });
    if (!short.ok) throw new Error(short.message);
    expect(serve('key-1', short.request)).toMatchObject({ readTokens: 0, write5mTokens: 0 });
  });

  it('caches a short prefix when the simulator is told a lower minimum', () => {
    const { serve } = setup(1);
    const short = parseMessagesRequest({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: breakpoint() }] },
      ],
    });
    if (!short.ok) throw new Error(short.message);
    expect(serve('key-1', short.request).write5mTokens).toBe(1);
  });

  it('finds an earlier prefix only within 20 blocks of a breakpoint', () => {
    const { serve } = setup();
    serve('key-1', turn(1));
    // 11 turns later the breakpoint is 20 blocks past the first one's: still found.
    expect(serve('key-1', turn(11)).readTokens).toBeGreaterThan(Math.ceil(SYSTEM.length / 4));
    const { serve: fresh } = setup();
    fresh('key-1', turn(1));
    // 12 turns on it is 22 blocks away: only the system prompt's own breakpoint is found.
    expect(fresh('key-1', turn(12)).readTokens).toBe(Math.ceil(SYSTEM.length / 4));
  });

  it('holds at most its bound of entries', () => {
    const clock = new ManualClock(0);
    const cache = new PromptCache({ clock, maxEntries: 3 });
    for (const topic of ['a', 'b', 'c', 'd']) {
      const request = turn(1, { topic });
      cache.serve('k', request.model, request.segments, estimateInputTokens(request));
    }
    expect(cache.size).toBe(3);
  });

  it.each<[string, number]>([
    ['claude-opus-4-5', 4096],
    ['anthropic.claude-haiku-4-5-20251001-v1:0', 4096],
    ['claude-3-haiku-20240307', 1024],
    ['claude-haiku-3-5', 2048],
    ['claude-sonnet-4-5', 1024],
  ])('needs at least the API minimum for %s', (model, tokens) => {
    expect(minCacheableTokens(model)).toBe(tokens);
  });
});

describe('cache_control in a request', () => {
  const request = (system: unknown[]) =>
    parseMessagesRequest({
      model: 'm',
      max_tokens: 1,
      system,
      messages: [{ role: 'user', content: 'x' }],
    });
  const block = (ttl?: string) => ({
    type: 'text',
    text: 't',
    cache_control: { type: 'ephemeral', ...(ttl === undefined ? {} : { ttl }) },
  });

  it.each<[string, unknown[], RegExp]>([
    [
      'more than four breakpoints',
      [block(), block(), block(), block(), block()],
      /A maximum of 4 blocks with cache_control/,
    ],
    [
      'an unknown ttl',
      [block('2h')],
      /system\.0\.cache_control\.ttl: Input should be '5m' or '1h'/,
    ],
    [
      'a one-hour breakpoint after a five-minute one',
      [block('5m'), block('1h')],
      /may not come after a ttl=5m/,
    ],
  ])('refuses %s', (_name, system, message) => {
    const parsed = request(system);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });
});

import { describe, expect, it } from '@jest/globals';
import { FIVE_MINUTES_MS, LOOKBACK_BLOCKS, ONE_HOUR_MS, prefixKeys } from './prefixKeys.ts';

const cached = (text: string, ttl?: '1h') => ({
  type: 'text',
  text,
  cache_control: ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl },
});
const system = [cached('You are a careful assistant.')];

/** Turn n of a conversation whose newest user message carries the breakpoint. */
function turn(n: number, topic = 'tides'): Record<string, unknown> {
  const messages: unknown[] = [];
  for (let i = 1; i <= n; i++) {
    const text = `question ${String(i)} about ${topic}`;
    messages.push({ role: 'user', content: i === n ? [cached(text)] : [{ type: 'text', text }] });
    if (i < n) messages.push({ role: 'assistant', content: `answer ${String(i)}` });
  }
  return { model: 'm', max_tokens: 10, system, messages };
}

describe('prefixKeys', () => {
  it('has no key for a request without a breakpoint or a session', () => {
    expect(prefixKeys({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toBeUndefined();
  });

  it("finds the last turn's pin from the next turn, whose breakpoint has moved on", () => {
    const first = prefixKeys(turn(1));
    const second = prefixKeys(turn(2));
    expect(second?.pin).not.toBe(first?.pin);
    expect(second?.lookup).toContain(first?.pin);
  });

  it('gives two conversations with one system prompt different keys', () => {
    const a = prefixKeys(turn(3, 'tides'));
    const b = prefixKeys(turn(3, 'comets'));
    expect(b?.lookup).not.toContain(a?.pin);
  });

  it('ignores cache_control when hashing, and fields after the breakpoint', () => {
    const plain = turn(2);
    const other = { ...turn(2), temperature: 0.3, stream: true, max_tokens: 99 };
    expect(prefixKeys(other)?.pin).toBe(prefixKeys(plain)?.pin);
  });

  it('looks back at most the API lookback in blocks', () => {
    expect(prefixKeys(turn(30))?.lookup).toHaveLength(LOOKBACK_BLOCKS + 1);
  });

  it.each<[string, Record<string, unknown>, number]>([
    ['5 minutes by default', turn(1), FIVE_MINUTES_MS],
    [
      '1 hour when a breakpoint asks',
      { ...turn(1), system: [cached('You are a careful assistant.', '1h')] },
      ONE_HOUR_MS,
    ],
  ])('keeps the cache %s', (_name, body, ttl) => {
    expect(prefixKeys(body)?.ttlMs).toBe(ttl);
  });

  it('keeps a shortened five-minute lifetime where the runtime is told one, and an hour as asked', () => {
    expect(prefixKeys(turn(1), undefined, 2_000)?.ttlMs).toBe(2_000);
    const hour = { ...turn(1), system: [cached('You are a careful assistant.', '1h')] };
    expect(prefixKeys(hour, undefined, 2_000)?.ttlMs).toBe(ONE_HOUR_MS);
  });

  it('keys a named session on the session alone', () => {
    const a = prefixKeys({ model: 'm', messages: [{ role: 'user', content: 'a' }] }, 's-1');
    const b = prefixKeys(turn(4), 's-1');
    expect(a?.lookup).toEqual([a?.pin]);
    expect(b?.pin).toBe(a?.pin);
  });

  it('treats tools as part of the prefix', () => {
    const tool = { name: 'lookup', input_schema: { type: 'object' } };
    const withTools = { ...turn(1), tools: [tool] };
    expect(prefixKeys(withTools)?.pin).not.toBe(prefixKeys(turn(1))?.pin);
  });
});

describe('prefixKeys on long blocks', () => {
  const long = (change: (text: string[]) => void) => {
    const text = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(97 + (i % 26)));
    change(text);
    return prefixKeys({ model: 'm', system: [cached(text.join(''))], messages: [] })?.pin;
  };

  it.each<[string, (t: string[]) => void]>([
    ['its start', (t) => (t[3] = 'X')],
    ['its end', (t) => (t[19_990] = 'X')],
    ['its length', (t) => t.push('X')],
  ])('tells two system prompts apart by %s', (_name, change) => {
    expect(long(change)).not.toBe(long(() => undefined));
  });
});

import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { classifyError } from './anthropic/errorClassification.ts';
import { CancelledError, TimeoutError } from '../guard/errors.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { lastEventEnd, readableSource, relayStream, type StreamSink } from './streamRelay.ts';

const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const START = event('message_start', {
  type: 'message_start',
  message: { usage: { input_tokens: 12, output_tokens: 1 } },
});
const PING = event('ping', { type: 'ping' });
const BLOCK = event('content_block_start', {
  type: 'content_block_start',
  index: 0,
  content_block: { type: 'text', text: '' },
});
const DELTA = event('content_block_delta', {
  type: 'content_block_delta',
  index: 0,
  delta: { type: 'text_delta', text: 'hello' },
});
const END =
  event('content_block_stop', { type: 'content_block_stop', index: 0 }) +
  event('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { output_tokens: 7 },
  }) +
  event('message_stop', { type: 'message_stop' });
const OVERLOADED = event('error', {
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});

class RecordingSink implements StreamSink {
  /** A caller that reads nothing: every write fills its buffer, and it never drains. */
  full = false;
  committed = false;
  servedBy: string | undefined = undefined;
  errorEventSent = false;
  begun: number[] = [];
  written = '';
  /** Each write's `last` flag, in order. */
  lastFlags: boolean[] = [];
  begin(status: number): void {
    this.begun.push(status);
  }
  write(chunk: Buffer, last = false): boolean {
    this.written += chunk.toString('utf8');
    this.lastFlags.push(last);
    return !this.full;
  }
  onDrain(resume: () => void): void {
    if (!this.full) resume();
  }
}

function relay(options: { maxDurationMs?: number } = {}) {
  const source = new PassThrough();
  const sink = new RecordingSink();
  const clock = new ManualClock(0);
  const seen = {
    firstEvent: 0,
    commits: 0,
    usage: undefined as unknown,
    expire: undefined as ((err: Error) => void) | undefined,
  };
  const result = relayStream(readableSource(source), {
    status: 200,
    headers: { 'request-id': 'req_1' },
    sink,
    whenExpired: (fn) => (seen.expire = fn),
    clock,
    maxDurationMs: options.maxDurationMs ?? Infinity,
    firstEvent: () => seen.firstEvent++,
    commit: () => {
      seen.commits++;
      sink.committed = true;
    },
    reportUsage: (usage) => (seen.usage = usage),
  });
  // Settled or not, the assertions below read it; an unhandled rejection would end the run.
  result.catch(() => undefined);
  return { source, sink, clock, seen, result };
}

const outcomeOf = (err: unknown) => classifyError(err, 0).outcome;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('relayStream', () => {
  it('writes nothing and commits nothing until content begins', async () => {
    const r = relay();
    r.source.write(START);
    r.source.write(PING);
    await tick();
    expect(r.sink.begun).toEqual([]);
    expect(r.sink.written).toBe('');
    expect(r.seen).toMatchObject({ firstEvent: 1, commits: 0 });
    r.source.write(BLOCK);
    await tick();
    expect(r.sink.begun).toEqual([200]);
    expect(r.sink.written).toBe(START + PING + BLOCK);
    expect(r.seen.commits).toBe(1);
  });

  it('resolves with the usage on message_stop, after writing every event', async () => {
    const r = relay();
    r.source.end(START + BLOCK + DELTA + END);
    await expect(r.result).resolves.toEqual({ input_tokens: 12, output_tokens: 7 });
    expect(r.sink.written).toBe(START + BLOCK + DELTA + END);
    expect(r.seen.usage).toEqual({ input_tokens: 12, output_tokens: 7 });
  });

  it('marks as last only the write that carries the end: message_stop, or the error event', async () => {
    const r = relay();
    r.source.write(START + BLOCK);
    await tick();
    r.source.write(DELTA);
    await tick();
    r.source.end(END);
    await r.result;
    expect(r.sink.lastFlags).toEqual([false, false, true]);

    const failed = relay();
    failed.source.write(START + BLOCK);
    await tick();
    failed.source.write(OVERLOADED);
    await expect(failed.result).rejects.toBeInstanceOf(APIError);
    expect(failed.sink.lastFlags).toEqual([false, true]);
    expect(failed.sink.written).toBe(START + BLOCK + OVERLOADED);
  });

  it('writes only whole events, however the bytes were cut', async () => {
    const r = relay();
    const all = START + BLOCK + DELTA + END;
    const cut = all.indexOf('hello') + 2;
    r.source.write(all.slice(0, cut));
    await tick();
    expect(r.sink.written).toBe(START + BLOCK);
    r.source.end(all.slice(cut));
    await r.result;
    expect(r.sink.written).toBe(all);
  });

  it.each([
    ['an overloaded error event', OVERLOADED, 'Overloaded'],
    [
      'an api_error event',
      event('error', { type: 'error', error: { type: 'api_error', message: 'x' } }),
      'ServerError',
    ],
    [
      'a rate_limit_error event',
      event('error', { type: 'error', error: { type: 'rate_limit_error', message: 'x' } }),
      'RateLimited',
    ],
  ])(
    'fails before content with %s, unseen by the caller and classified as its HTTP equivalent',
    async (_name, errorEvent, outcome) => {
      const r = relay();
      r.source.write(START + PING + errorEvent);
      const err = await r.result.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(APIError);
      expect(outcomeOf(err)).toBe(outcome);
      expect(r.sink.written).toBe('');
      expect(r.sink.committed).toBe(false);
    },
  );

  it('relays an error event after content to the caller as it came, and fails the attempt', async () => {
    const r = relay();
    r.source.write(START + BLOCK + DELTA + OVERLOADED);
    const err = await r.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(outcomeOf(err)).toBe('Overloaded');
    expect(r.sink.written).toBe(START + BLOCK + DELTA + OVERLOADED);
    expect(r.sink.errorEventSent).toBe(true);
    expect(r.sink.committed).toBe(true);
  });

  it('fails a stream that ends without message_stop as a ConnectionError', async () => {
    const r = relay();
    r.source.end(START + BLOCK + DELTA);
    const err = await r.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(outcomeOf(err)).toBe('ConnectionError');
    expect(r.sink.errorEventSent).toBe(false);
  });

  it('fails a stream the transport cut with the transport error', async () => {
    const r = relay();
    r.source.write(START + BLOCK);
    await tick();
    r.source.destroy(new APIConnectionError({ message: 'socket hang up' }));
    await expect(r.result).rejects.toBeInstanceOf(APIConnectionError);
  });

  it('cuts a stream that outlives maxDurationMs as a Timeout', async () => {
    const r = relay({ maxDurationMs: 5_000 });
    r.source.write(START + BLOCK + DELTA);
    await tick();
    r.clock.advance(5_000);
    const err = await r.result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(r.source.destroyed).toBe(true);
  });

  it('ends as Cancelled when the exchange is cancelled underneath (the caller went away)', async () => {
    const r = relay();
    r.source.write(START + BLOCK);
    await tick();
    r.source.destroy(new CancelledError(new Error('caller went away')));
    await expect(r.result).rejects.toBeInstanceOf(CancelledError);
    expect(outcomeOf(await r.result.catch((e: unknown) => e))).toBe('Cancelled');
  });

  it.each<[string, string, boolean]>([
    ['fees', 'a caller that reads', false],
    [
      'all',
      'a caller whose buffer is full (the provider may have written past what was read)',
      true,
    ],
  ])(
    'reports %s of its usage unknown for a stream cut before its final usage, with %s',
    async (unknown, _name, full) => {
      const r = relay();
      r.sink.full = full;
      r.source.write(START + BLOCK + DELTA);
      await tick();
      r.source.destroy(new CancelledError(new Error('caller went away')));
      await r.result.catch(() => undefined);
      expect(r.seen.usage).toEqual(expect.objectContaining({ input_tokens: 12, unknown }));
    },
  );

  it('stops at once when the attempt’s deadline passes before the first content', async () => {
    const r = relay();
    r.source.write(START);
    await tick();
    r.seen.expire?.(new TimeoutError(30_000));
    await expect(r.result).rejects.toBeInstanceOf(TimeoutError);
    expect(r.source.destroyed).toBe(true);
    expect(r.sink.written).toBe('');
  });
});

describe('the end of the last whole event in a chunk', () => {
  /** The definition: past the later of the last LF and the last CRLF blank line. */
  const byDefinition = (bytes: Buffer) => {
    const lf = bytes.lastIndexOf('\n\n');
    const crlf = bytes.lastIndexOf('\r\n\r\n');
    return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
  };

  it('is the definition’s for every mix of LF, CRLF and text', () => {
    // Every string of up to 8 bytes over {a, \r, \n}: endings met, cut, mixed and repeated.
    const alphabet = ['a', '\r', '\n'];
    let strings = [''];
    let checked = 0;
    for (let length = 1; length <= 8; length++) {
      strings = strings.flatMap((s) => alphabet.map((c) => s + c));
      for (const s of strings) {
        const bytes = Buffer.from(s);
        expect([s, lastEventEnd(bytes)]).toEqual([s, byDefinition(bytes)]);
        checked++;
      }
    }
    expect(checked).toBe(9_840);
  });

  it('finds a CRLF blank line that ends past an LF one, and one before it only when alone', () => {
    expect(lastEventEnd(Buffer.from('data: a\n\ndata: b\r\n\r\n'))).toBe(20);
    expect(lastEventEnd(Buffer.from('data: a\r\n\r\ndata: b\n\n'))).toBe(20);
    expect(lastEventEnd(Buffer.from('data: a\r\n\r\ndata: b'))).toBe(11);
    expect(lastEventEnd(Buffer.from('data: a\n\r\n\r\n'))).toBe(12);
    expect(lastEventEnd(Buffer.from('data: a'))).toBe(0);
  });
});

import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { errorText, pollUntil } from './polling.ts';

describe('errorText', () => {
  it("names a fetch timeout, Node's DOMException, not {}", async () => {
    // What fetch rejects with when AbortSignal.timeout fires, without waiting for one.
    const timedOut = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const error = await fetch('http://127.0.0.1:9/', { signal: AbortSignal.abort(timedOut) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(errorText(error)).toBe('TimeoutError: The operation was aborted due to timeout');
  });

  it("names what fetch's 'fetch failed' hides: its cause", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const error = await fetch(`http://127.0.0.1:${String(port)}/`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(errorText(error)).toMatch(/^fetch failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('keeps plain errors, strings, no error and other values readable', () => {
    expect(errorText(new Error('boom'))).toBe('boom');
    expect(errorText(new RangeError('too far'))).toBe('RangeError: too far');
    expect(errorText('said so')).toBe('said so');
    expect(errorText(undefined)).toBe('no answer');
    expect(errorText({ status: 503 })).toBe('{"status":503}');
  });

  it("carries a probe's last complaint into a timeout", async () => {
    // A zero timeout asks once and gives up without sleeping.
    const outcome = await pollUntil(() => Promise.reject(new Error('not yet')), {
      timeoutMs: 0,
      intervalMs: 10,
    });
    expect(outcome.kind).toBe('timeout');
    expect(outcome.kind === 'timeout' && errorText(outcome.lastError)).toBe('not yet');
  });
});

import { describe, expect, it } from '@jest/globals';
import { unwatchAbort, watchAbort, watchableAbortController } from './abortWatch.ts';

describe("watching a call's cancellation", () => {
  it('calls the watcher once, after the signal aborted and its listeners ran', () => {
    const abort = watchableAbortController();
    const seen: string[] = [];
    abort.signal.addEventListener('abort', () =>
      seen.push(`listener ${String(abort.signal.reason)}`),
    );
    watchAbort(abort.signal, () => seen.push(`watcher ${String(abort.signal.aborted)}`));
    abort.abort('gone');
    abort.abort('again');
    expect(seen).toEqual(['listener gone', 'watcher true']);
    expect(abort.signal.reason).toBe('gone');
  });

  it('does not call a watcher that stopped watching, and frees the slot for the next', () => {
    const abort = watchableAbortController();
    const calls: string[] = [];
    const first = () => calls.push('first');
    const second = () => calls.push('second');
    watchAbort(abort.signal, first);
    unwatchAbort(abort.signal, first);
    watchAbort(abort.signal, second);
    abort.abort(new Error('gone'));
    expect(calls).toEqual(['second']);
  });

  it('watches two at once: the second as a listener, each stopped alone', () => {
    const abort = watchableAbortController();
    const calls: string[] = [];
    const first = () => calls.push('first');
    const second = () => calls.push('second');
    const third = () => calls.push('third');
    watchAbort(abort.signal, first);
    watchAbort(abort.signal, second);
    watchAbort(abort.signal, third);
    unwatchAbort(abort.signal, second);
    abort.abort(new Error('gone'));
    expect(calls.sort()).toEqual(['first', 'third']);
  });

  it('watches any other signal through a listener', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const kept = () => calls.push('kept');
    const dropped = () => calls.push('dropped');
    watchAbort(controller.signal, kept);
    watchAbort(controller.signal, dropped);
    unwatchAbort(controller.signal, dropped);
    controller.abort();
    expect(calls).toEqual(['kept']);
  });
});

import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { ManualClock } from '../../test/support/manualClock.ts';
import type { PacedWrite } from './streamPacing.ts';
import { playStream, type StreamEnding, type StreamSink } from './streamPlayback.ts';

/** Records what the stream did to the response, and when. */
class RecordingSink extends EventEmitter implements StreamSink {
  readonly calls: string[] = [];
  readonly #clock: ManualClock;

  constructor(clock: ManualClock) {
    super();
    this.#clock = clock;
  }

  write(bytes: Buffer, written?: () => void): void {
    this.calls.push(`${String(this.#clock.now())} write ${bytes.toString()}`);
    written?.();
  }

  end(bytes: Buffer): void {
    this.calls.push(`${String(this.#clock.now())} end ${bytes.toString()}`);
  }

  destroy(): void {
    this.calls.push(`${String(this.#clock.now())} destroy`);
  }
}

const write = (delayMs: number, text: string): PacedWrite => ({
  delayMs,
  bytes: Buffer.from(text),
});

const threeWrites = [write(0, 'a'), write(40, 'b'), write(8, 'c')];

function play(writes: readonly PacedWrite[], ending: StreamEnding) {
  const clock = new ManualClock();
  const sink = new RecordingSink(clock);
  playStream(sink, writes, ending, clock);
  return { clock, sink };
}

describe('playStream', () => {
  it.each<[string, StreamEnding, string[]]>([
    ['ends a complete answer with its last write', 'end', ['40 write b', '48 end c']],
    ['holds the connection open after a stall', 'stall', ['40 write b', '48 write c']],
    [
      'cuts the connection once the last write has left',
      'drop',
      ['40 write b', '48 write c', '48 destroy'],
    ],
  ])('%s', (_name, ending, after) => {
    const { clock, sink } = play(threeWrites, ending);

    expect(sink.calls).toEqual(['0 write a']);
    clock.advance(1_000);
    expect(sink.calls).toEqual(['0 write a', ...after]);
    expect(clock.pendingTimers).toBe(0);
    expect(sink.listenerCount('close')).toBe(0);
  });

  it('sends a stream planned as one write in one end, without a timer', () => {
    const { clock, sink } = play([write(0, 'abc')], 'end');

    expect(sink.calls).toEqual(['0 end abc']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops writing and leaves no timer behind when the client goes away', () => {
    const { clock, sink } = play(threeWrites, 'end');
    clock.advance(45);

    sink.emit('close');
    clock.advance(1_000);

    expect(sink.calls).toEqual(['0 write a', '40 write b']);
    expect(clock.pendingTimers).toBe(0);
  });
});

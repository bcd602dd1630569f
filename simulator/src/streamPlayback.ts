/**
 * Plays paced writes on a response with the injected clock, then ends the stream one of
 * three ways: `end` completes the answer, `stall` sends nothing more and holds the
 * connection open, `drop` cuts the connection once the last write has left. A client that
 * goes away cancels the pause in progress, so no timer outlives its stream.
 */
import type { Cancel, Clock } from '../../platform/src/time/clock.ts';
import type { PacedWrite } from './streamPacing.ts';

export type StreamEnding = 'end' | 'stall' | 'drop';

/** The part of a `ServerResponse` a stream is played on. */
export interface StreamSink {
  write(bytes: Buffer, written?: () => void): unknown;
  end(bytes: Buffer): unknown;
  destroy(): unknown;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/**
 * `played` hears how many bytes went out before the stream ended: all of them once the last
 * write is made (whatever the ending), or those written before the client went away.
 */
export function playStream(
  sink: StreamSink,
  writes: readonly PacedWrite[],
  ending: StreamEnding,
  clock: Clock,
  played: (bytes: number, cut: boolean) => void = () => undefined,
): void {
  let next = 0;
  let written = 0;
  let cancel: Cancel | undefined;
  const onClose = () => {
    cancel?.();
    played(written, true);
  };
  const writeNext = () => {
    const bytes = writes[next]?.bytes ?? Buffer.alloc(0);
    next += 1;
    written += bytes.length;
    if (next >= writes.length) {
      sink.off('close', onClose);
      finish(sink, bytes, ending);
      played(written, false);
      return;
    }
    sink.write(bytes);
    schedule();
  };
  const schedule = () => {
    const delayMs = writes[next]?.delayMs ?? 0;
    if (delayMs > 0) cancel = clock.setTimeout(writeNext, delayMs);
    else writeNext();
  };
  sink.once('close', onClose);
  schedule();
}

function finish(sink: StreamSink, bytes: Buffer, ending: StreamEnding): void {
  switch (ending) {
    case 'end':
      sink.end(bytes);
      return;
    case 'stall':
      sink.write(bytes);
      return;
    case 'drop':
      sink.write(bytes, () => {
        sink.destroy();
      });
      return;
  }
}

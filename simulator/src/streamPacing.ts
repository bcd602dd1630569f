/**
 * When each byte of a stream goes out, as a real provider sends it: `message_start` and `ping`
 * at once, a pause for the first token, then a pause before each further event, every pause
 * jittered by ±50 % on the seeded generator. About one event in four is cut in two writes
 * inside its `data:` line, a millisecond apart, as TCP delivers a provider's stream; the cut
 * may fall inside a multi-byte UTF-8 character, as TCP's may.
 *
 * A write with no pause before it joins the one before, so with both pauses 0 and whole
 * events the stream is a single write (what benchmarks ask for).
 */
import type { Random } from '../../platform/src/random/random.ts';
import { OPENING_EVENTS } from './sseEncoding.ts';

export interface StreamPacing {
  /** Pause before the first event after `message_start` and `ping` (time to first token). */
  readonly firstTokenMs: number;
  /** Pause before each event after that. */
  readonly eventGapMs: number;
  /** Never cut an event in two writes. */
  readonly wholeEvents: boolean;
}

export const DEFAULT_PACING: StreamPacing = {
  firstTokenMs: 40,
  eventGapMs: 8,
  wholeEvents: false,
};

/** Bytes to write after a pause. */
export interface PacedWrite {
  readonly delayMs: number;
  readonly bytes: Buffer;
}

const PARTIAL_WRITE_CHANCE = 0.25;
/** Between the two halves of a cut event. */
export const PARTIAL_WRITE_PAUSE_MS = 1;

/** Where an event may be cut in two writes: a byte offset strictly inside it. */
export type CutPoint = (event: Buffer, random: Random) => number;

export function paceStream(
  events: readonly (string | Uint8Array)[],
  pacing: StreamPacing,
  random: Random,
  cutPoint: CutPoint = cutInsideDataLine,
): PacedWrite[] {
  const writes: { delayMs: number; parts: Buffer[] }[] = [];
  const add = (delayMs: number, bytes: Buffer) => {
    const last = writes.at(-1);
    if (last !== undefined && delayMs === 0) last.parts.push(bytes);
    else writes.push({ delayMs, parts: [bytes] });
  };
  events.forEach((event, index) => {
    const delayMs = jittered(pauseBefore(index, pacing), random);
    const bytes = Buffer.from(event);
    if (!pacing.wholeEvents && random() < PARTIAL_WRITE_CHANCE) {
      const cut = cutPoint(bytes, random);
      add(delayMs, bytes.subarray(0, cut));
      add(PARTIAL_WRITE_PAUSE_MS, bytes.subarray(cut));
    } else {
      add(delayMs, bytes);
    }
  });
  return writes.map(({ delayMs, parts }) => ({ delayMs, bytes: Buffer.concat(parts) }));
}

function pauseBefore(index: number, pacing: StreamPacing): number {
  if (index < OPENING_EVENTS) return 0;
  return index === OPENING_EVENTS ? pacing.firstTokenMs : pacing.eventGapMs;
}

/** `ms` ± 50 %, in whole milliseconds; 0 stays 0. */
function jittered(ms: number, random: Random): number {
  return ms === 0 ? 0 : Math.round(ms * (0.5 + random()));
}

/**
 * A cut after at least one byte of the `data:` line and before its newline, so that neither
 * half ends on a line boundary.
 */
export function cutInsideDataLine(event: Buffer, random: Random): number {
  const dataLine = event.indexOf(0x0a) + 1;
  const dataEnd = event.length - 2;
  return dataLine + 1 + Math.floor(random() * (dataEnd - dataLine));
}

/** A cut anywhere inside a binary frame, its length prefix and headers included. */
export function cutAnywhere(event: Buffer, random: Random): number {
  return 1 + Math.floor(random() * (event.length - 1));
}

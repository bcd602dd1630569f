import { describe, expect, it } from '@jest/globals';
import type { Reply } from './replyPlan.ts';
import { seededRandom } from '../../platform/src/random/random.ts';
import { messageStreamEvents } from './sseEncoding.ts';
import {
  DEFAULT_PACING,
  PARTIAL_WRITE_PAUSE_MS,
  paceStream,
  type PacedWrite,
  type StreamPacing,
} from './streamPacing.ts';

function replyOf(text: string): Reply {
  return {
    id: 'msg_1',
    model: 'claude-sim',
    content: [{ type: 'text', text }],
    stopReason: 'end_turn',
    stopSequence: null,
    inputTokens: 3,
    outputTokens: Math.ceil(text.length / 4),
  };
}

/** About 150 events, some of them with multi-byte characters. */
const longStream = messageStreamEvents(replyOf('a 21°C reply, long enough. '.repeat(80)));
const shortStream = messageStreamEvents(replyOf('You said: a reply of several pieces'));

const paced = (pacing: Partial<StreamPacing>, events = longStream, seed = 1) =>
  paceStream(events, { ...DEFAULT_PACING, ...pacing }, seededRandom(seed));

const text = (writes: readonly PacedWrite[]) =>
  Buffer.concat(writes.map((w) => w.bytes)).toString('utf8');

describe('paceStream', () => {
  it('sends the whole stream in one write when both pauses are 0 and events stay whole', () => {
    expect(paced({ firstTokenMs: 0, eventGapMs: 0, wholeEvents: true })).toEqual([
      { delayMs: 0, bytes: Buffer.from(longStream.join('')) },
    ]);
  });

  it('sends message_start and ping at once, then waits for the first token and between events', () => {
    const writes = paced({ firstTokenMs: 40, eventGapMs: 8, wholeEvents: true }, shortStream);

    expect(writes.map((w) => w.bytes.toString('utf8'))).toEqual([
      `${shortStream[0] ?? ''}${shortStream[1] ?? ''}`,
      ...shortStream.slice(2),
    ]);
    expect(writes[0]?.delayMs).toBe(0);
    expect(writes[1]?.delayMs).toBeGreaterThanOrEqual(20);
    expect(writes[1]?.delayMs).toBeLessThanOrEqual(60);
    for (const { delayMs } of writes.slice(2)) {
      expect(delayMs).toBeGreaterThanOrEqual(4);
      expect(delayMs).toBeLessThanOrEqual(12);
    }
  });

  it('jitters the pauses, so that they are not all alike', () => {
    const gaps = new Set(paced({ wholeEvents: true }).map((w) => w.delayMs));

    expect(gaps.size).toBeGreaterThan(5);
  });

  it.each<[string, Partial<StreamPacing>]>([
    ['paced, with events cut in two', {}],
    ['paced, with whole events', { wholeEvents: true }],
    ['in one write', { firstTokenMs: 0, eventGapMs: 0, wholeEvents: true }],
    ['without pauses, with events cut in two', { firstTokenMs: 0, eventGapMs: 0 }],
  ])('sends every byte of the stream, in order, %s', (_name, pacing) => {
    expect(text(paced(pacing))).toBe(longStream.join(''));
  });

  it('plans the same writes for the same seed, and others for another seed', () => {
    expect(paced({}, longStream, 7)).toEqual(paced({}, longStream, 7));
    expect(paced({}, longStream, 7)).not.toEqual(paced({}, longStream, 8));
  });

  it('cuts about one event in four in two writes, inside the data line, a millisecond apart', () => {
    const writes = paced({});
    const cuts = writes.flatMap((w, i) => (w.delayMs === PARTIAL_WRITE_PAUSE_MS ? [i] : []));

    expect(cuts.length).toBeGreaterThan(longStream.length * 0.15);
    expect(cuts.length).toBeLessThan(longStream.length * 0.35);
    for (const i of cuts) {
      const firstHalf = writes[i - 1]?.bytes.toString('latin1') ?? '';
      const lastLine = firstHalf.slice(firstHalf.lastIndexOf('\n') + 1);
      expect(lastLine).toMatch(/^d/);
      expect(writes[i]?.bytes.toString('latin1')).toMatch(/\n\n$/);
    }
  });

  it('ends every write on an event boundary when events stay whole', () => {
    for (const { bytes } of paced({ wholeEvents: true })) {
      expect(bytes.toString('utf8')).toMatch(/\n\n$/);
    }
  });
});

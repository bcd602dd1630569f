import { describe, expect, it } from '@jest/globals';
import { getChunkedStream } from '@smithy/core/event-streams';
import { EventStreamCodec, MessageDecoderStream } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { seededRandom } from '../../platform/src/random/random.ts';
import { bedrockDialect } from './bedrockRoutes.ts';
import { chunkFrame, exceptionFrame } from './bedrockEventStream.ts';
import type { Reply } from './replyPlan.ts';
import { streamEventData } from './sseEncoding.ts';
import { DEFAULT_PACING, paceStream } from './streamPacing.ts';

const reply: Reply = {
  id: 'msg_1',
  model: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
  content: [{ type: 'text', text: 'You said: 21°C and sunny, a reply of several pieces' }],
  stopReason: 'end_turn',
  stopSequence: null,
  inputTokens: 5,
  outputTokens: 13,
};

interface Decoded {
  readonly headers: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

/**
 * Decodes `chunks` as an AWS SDK reads them off the network: the chunked stream reassembles
 * frames cut across reads, the codec's message decoder checks and parses each.
 */
async function decodeChunks(chunks: readonly Uint8Array[]): Promise<Decoded[]> {
  async function* network() {
    for (const chunk of chunks) {
      await Promise.resolve();
      yield chunk;
    }
  }
  const decoder = new MessageDecoderStream({
    inputStream: getChunkedStream(network()),
    decoder: new EventStreamCodec(toUtf8, fromUtf8),
  });
  const messages: Decoded[] = [];
  for await (const message of decoder) {
    const headers = Object.fromEntries(
      Object.entries(message.headers).map(([name, header]) => [name, header.value]),
    );
    messages.push({
      headers,
      payload: JSON.parse(toUtf8(message.body)) as Record<string, unknown>,
    });
  }
  return messages;
}

/** The Anthropic event a chunk frame carries. */
function carried(decoded: Decoded): unknown {
  return JSON.parse(Buffer.from(decoded.payload['bytes'] as string, 'base64').toString('utf8'));
}

describe('Bedrock event-stream frames', () => {
  const dialect = bedrockDialect(seededRandom(3));
  const events = streamEventData(reply);
  const frames = dialect.encodeEvents(events, reply).map((frame) => Buffer.from(frame));
  const whole = Buffer.concat(frames);

  it('carries each Anthropic event as a chunk frame, base64 in bytes, padded', async () => {
    const decoded = await decodeChunks([whole]);
    expect(decoded).toHaveLength(events.length);
    for (const frame of decoded) {
      expect(frame.headers).toEqual({
        ':event-type': 'chunk',
        ':content-type': 'application/json',
        ':message-type': 'event',
      });
      expect(frame.payload['p']).toMatch(/^[a-zA-Z0-9]+$/);
    }
    expect(decoded.slice(0, -1).map(carried)).toEqual(events.slice(0, -1).map((e) => e.data));
  });

  it("closes message_stop with Bedrock's invocation metrics", async () => {
    const last = (await decodeChunks([whole])).at(-1);
    expect(last === undefined ? undefined : carried(last)).toEqual({
      type: 'message_stop',
      'amazon-bedrock-invocationMetrics': {
        inputTokenCount: 5,
        outputTokenCount: 13,
        cacheReadInputTokenCount: 0,
        cacheWriteInputTokenCount: 0,
        invocationLatency: 0,
        firstByteLatency: 0,
      },
    });
  });

  it('decodes to the same frames from a stream split at every byte offset', async () => {
    const expected = await decodeChunks([whole]);
    for (let cut = 1; cut < whole.length; cut++) {
      await expect(decodeChunks([whole.subarray(0, cut), whole.subarray(cut)])).resolves.toEqual(
        expected,
      );
    }
  });

  it('decodes to the same frames from the paced writes, cuts inside frames included', async () => {
    const expected = await decodeChunks([whole]);
    for (let seed = 1; seed <= 20; seed++) {
      const writes = paceStream(frames, DEFAULT_PACING, seededRandom(seed), dialect.cutPoint);
      await expect(decodeChunks(writes.map((w) => w.bytes))).resolves.toEqual(expected);
    }
  });

  it('cuts some frames across two writes, as a network delivers them', () => {
    const writes = paceStream(frames, DEFAULT_PACING, seededRandom(1), dialect.cutPoint);
    const boundaries = new Set<number>();
    let offset = 0;
    for (const frame of frames) boundaries.add((offset += frame.length));
    offset = 0;
    const cutsInside = writes.filter((w) => !boundaries.has((offset += w.bytes.length)));
    expect(cutsInside.length).toBeGreaterThan(0);
  });

  it.each([
    [429, 'throttlingException'],
    [529, 'throttlingException'],
    [500, 'internalServerException'],
    [503, 'serviceUnavailableException'],
    [424, 'modelStreamErrorException'],
    [400, 'validationException'],
  ])('reports a %i inside a stream as an exception frame of type %s', async (status, exception) => {
    const frame = dialect.encodeStreamError(
      { status, type: 'api_error', message: 'Injected fault: x' },
      'req-1',
    );
    const [decoded] = await decodeChunks([Buffer.from(frame)]);
    expect(decoded?.headers).toEqual({
      ':exception-type': exception,
      ':content-type': 'application/json',
      ':message-type': 'exception',
    });
    expect(decoded?.payload['message']).toBe('Injected fault: x');
  });

  it('pads frames differently, so their length does not give the content away', () => {
    const random = seededRandom(9);
    const lengths = new Set(Array.from({ length: 10 }, () => chunkFrame('{}', random).length));
    expect(lengths.size).toBeGreaterThan(1);
    expect(
      exceptionFrame({ status: 429, exception: 'throttlingException', message: 'm' }).length,
    ).toBeGreaterThan(0);
  });
});

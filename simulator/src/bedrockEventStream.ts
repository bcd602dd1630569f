/**
 * `InvokeModelWithResponseStream`'s body, `application/vnd.amazon.eventstream`: each Anthropic
 * stream event is one binary frame (encoded with @smithy/eventstream-codec) with headers
 * `:event-type: chunk`, `:content-type: application/json`, `:message-type: event` and the
 * payload `{"bytes":"<base64 of the event's JSON>","p":"<padding>"}`; Bedrock pads payloads
 * with a run of letters so that their length does not give the content away, and so does the
 * simulator, so a client that reads more than `bytes` breaks here as it would there. An error
 * inside the stream is an exception frame: `:message-type: exception`, `:exception-type`
 * (`throttlingException`, `modelStreamErrorException`, …) and `{"message": …}`.
 */
import { crc32 } from 'node:zlib';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Random } from '../../platform/src/random/random.ts';
import type { BedrockError } from './bedrockError.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

type MessageHeaders = Parameters<typeof codec.encode>[0]['headers'];

const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const string = (value: string) => ({ type: 'string', value }) as const;

/** The headers every `chunk` frame carries, encoded once by the codec. */
const CHUNK_HEADERS = Buffer.from(
  codec.formatHeaders({
    ':event-type': string('chunk'),
    ':content-type': string('application/json'),
    ':message-type': string('event'),
  }),
);

/**
 * One `chunk` frame carrying an Anthropic stream event's JSON. Framed here around the
 * codec's header bytes, with node:zlib's native CRC-32: the codec's `encode` formats the same
 * headers and computes both checksums in JavaScript for every frame, which made the
 * simulator's Bedrock streams cost it six times its Anthropic ones in `make bench-runtime`,
 * where it shares the cores with the runtime it stands in front of. The tests decode these
 * frames with the codec.
 */
export function chunkFrame(eventJson: string, random: Random): Uint8Array {
  const padding = PADDING.slice(0, 1 + Math.floor(random() * PADDING.length));
  const payload = Buffer.from(
    JSON.stringify({ bytes: Buffer.from(eventJson).toString('base64'), p: padding }),
  );
  const total = 12 + CHUNK_HEADERS.length + payload.length + 4;
  const frame = Buffer.allocUnsafe(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(CHUNK_HEADERS.length, 4);
  frame.writeUInt32BE(crc32(frame.subarray(0, 8)), 8);
  CHUNK_HEADERS.copy(frame, 12);
  payload.copy(frame, 12 + CHUNK_HEADERS.length);
  frame.writeUInt32BE(crc32(frame.subarray(0, total - 4)), total - 4);
  return frame;
}

/** An exception frame, the way Bedrock reports an error after the stream's 200. */
export function exceptionFrame(error: BedrockError): Uint8Array {
  const body: Record<string, unknown> = { message: error.message };
  if (error.exception === 'modelStreamErrorException') {
    body['originalStatusCode'] = error.status;
    body['originalMessage'] = error.message;
  }
  const headers: MessageHeaders = {
    ':exception-type': string(error.exception),
    ':content-type': string('application/json'),
    ':message-type': string('exception'),
  };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(body)) });
}

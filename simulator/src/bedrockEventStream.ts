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
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { Random } from '../../platform/src/random/random.ts';
import type { BedrockError } from './bedrockError.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

type MessageHeaders = Parameters<typeof codec.encode>[0]['headers'];

const PADDING = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const string = (value: string) => ({ type: 'string', value }) as const;

/** One `chunk` frame carrying an Anthropic stream event's JSON. */
export function chunkFrame(eventJson: string, random: Random): Uint8Array {
  const padding = PADDING.slice(0, 1 + Math.floor(random() * PADDING.length));
  const payload = JSON.stringify({ bytes: Buffer.from(eventJson).toString('base64'), p: padding });
  const headers: MessageHeaders = {
    ':event-type': string('chunk'),
    ':content-type': string('application/json'),
    ':message-type': string('event'),
  };
  return codec.encode({ headers, body: fromUtf8(payload) });
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

/**
 * Amazon Bedrock's error answers: the exception name in `x-amzn-ErrorType` (with the service
 * namespace after a colon, as Bedrock sends it), a JSON body `{"message": …}`, and
 * `x-amzn-RequestId`. The simulator's error replies (Anthropic-shaped, from faults or
 * validation) map to Bedrock's exceptions by status: 429 and 529 throttle, 500, 503, 400 …
 * keep their meaning. Inside a stream the same errors become exception frames
 * (`throttlingException`, `modelStreamErrorException`, …), see bedrockEventStream.ts.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ApiErrorReply } from './anthropicError.ts';

/** An error as Bedrock answers it. */
export interface BedrockError {
  readonly status: number;
  /** `ThrottlingException`, `ValidationException`, … */
  readonly exception: string;
  readonly message: string;
}

const BEDROCK_NAMESPACE = 'http://internal.amazon.com/coral/com.amazon.bedrock/';
/** Authentication is answered by AWS's front door, in its own namespace. */
export const AUTH_NAMESPACE = 'http://internal.amazon.com/coral/com.amazon.coral.service/';

/** The InvokeModel exception for an error reply with `status`. */
export function bedrockErrorFor(reply: ApiErrorReply): BedrockError {
  const { status, message } = reply;
  const as = (code: number, exception: string): BedrockError => ({
    status: code,
    exception,
    message,
  });
  switch (status) {
    case 429:
    case 529:
      return as(429, 'ThrottlingException');
    case 401:
    case 403:
      return as(403, 'AccessDeniedException');
    case 404:
      return as(404, 'ResourceNotFoundException');
    case 408:
    case 504:
      return as(408, 'ModelTimeoutException');
    case 424:
      return as(424, 'ModelErrorException');
    case 503:
      return as(503, 'ServiceUnavailableException');
    default:
      return status >= 500 ? as(500, 'InternalServerException') : as(400, 'ValidationException');
  }
}

/**
 * The `:exception-type` of the frame that reports an error inside a stream: the members of
 * Bedrock's `ResponseStream` union, camel-cased as on the wire.
 */
export function streamExceptionFor(reply: ApiErrorReply): BedrockError {
  const { exception, status, message } = bedrockErrorFor(reply);
  const inStream: Readonly<Record<string, string>> = {
    ThrottlingException: 'throttlingException',
    ServiceUnavailableException: 'serviceUnavailableException',
    ModelTimeoutException: 'modelTimeoutException',
    ModelErrorException: 'modelStreamErrorException',
    ValidationException: 'validationException',
  };
  return { status, message, exception: inStream[exception] ?? 'internalServerException' };
}

export function sendBedrockError(
  res: ServerResponse,
  error: BedrockError,
  requestId: string,
  headers: OutgoingHttpHeaders = {},
  namespace = BEDROCK_NAMESPACE,
): void {
  const body = JSON.stringify({ message: error.message });
  res.writeHead(error.status, {
    ...headers,
    'x-amzn-RequestId': requestId,
    'x-amzn-ErrorType': `${error.exception}:${namespace}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

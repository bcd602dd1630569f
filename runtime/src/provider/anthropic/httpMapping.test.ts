import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from '@jest/globals';
import { PRIMARY_MODEL } from '../../../../contract/src/api/sampleModels.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { breakerSettings } from '../../guard/breakerFixture.ts';
import { CircuitBreaker } from '../../guard/circuitBreaker.ts';
import {
  BulkheadFullError,
  CancelledError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
  type OpenAnswer,
} from '../../guard/errors.ts';
import { failureOf } from './errorClassification.ts';
import { mapErrorToHttp, toAnthropicErrorBody, type HttpErrorMapping } from './httpMapping.ts';

const NOW = Date.UTC(2025, 0, 1);
const httpAnswer = (err: unknown) => mapErrorToHttp(err, failureOf(err, NOW));
const DAY_MS = 86_400_000;
const WAIT: OpenAnswer = { openRetryAfter: 'Remaining' };
const FAIL_FAST: OpenAnswer = { openRetryAfter: 'None' };

function sdkError(
  status: number,
  type: string,
  headers: Record<string, string> = {},
  errorCode?: string,
): APIError {
  const error = {
    type,
    message: `${type} happened`,
    ...(errorCode ? { details: { error_code: errorCode } } : {}),
  };
  return APIError.generate(status, { type: 'error', error }, undefined, new Headers(headers));
}

describe("the provider's own words", () => {
  it('are passed on as the message, not its body escaped inside ours', () => {
    const refused = APIError.generate(
      400,
      {
        type: 'error',
        error: {
          type: 'invalid_request_error',
          message: "messages.0.role: Input should be 'user' or 'assistant'",
        },
        request_id: 'req_011CTest',
      },
      undefined,
      new Headers(),
    );
    expect(httpAnswer(refused)).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      message: "messages.0.role: Input should be 'user' or 'assistant'",
    });
  });

  it("take Bedrock's and Vertex's shape too, and fall back to the SDK's message", () => {
    const bedrock = APIError.generate(
      400,
      { message: 'max_tokens: too large' },
      undefined,
      new Headers(),
    );
    expect(httpAnswer(bedrock).message).toBe('max_tokens: too large');
    const bare = APIError.generate(400, undefined, 'Bad Request', new Headers());
    expect(httpAnswer(bare).message).toBe(bare.message);
  });
});

describe('mapErrorToHttp', () => {
  it.each<[string, unknown, Partial<HttpErrorMapping>]>([
    [
      'a local rate limit answers 429 with Retry-After',
      new RateLimitedError('agent', 'requests', 1_200),
      { status: 429, type: 'rate_limit_error', retryAfterSeconds: 2 },
    ],
    [
      'an open breaker whose policy asks callers to wait answers 503 with Retry-After',
      new CircuitOpenError('b', 'Open', 30_000, WAIT),
      { status: 503, type: 'overloaded_error', retryAfterSeconds: 30 },
    ],
    [
      'a half-open breaker with no probe slot answers 503',
      new CircuitOpenError('b', 'HalfOpen', 1_000, WAIT),
      { status: 503, retryAfterSeconds: 1 },
    ],
    [
      'a full bulkhead answers 503 with Retry-After',
      new BulkheadFullError('b', 'queueFull', 5_000),
      { status: 503, retryAfterSeconds: 5 },
    ],
    ['a timeout answers 504', new TimeoutError(30_000), { status: 504, type: 'timeout_error' }],
    ['a cancelled call answers 499', new CancelledError(), { status: 499 }],
    [
      'a provider 429 answers 429 with the provider’s Retry-After',
      sdkError(429, 'rate_limit_error', { 'retry-after': '12' }),
      { status: 429, retryAfterSeconds: 12, shouldRetry: true },
    ],
    [
      'a spend-limit 429 says not to retry',
      sdkError(429, 'rate_limit_error', {}, 'enforced_spend_limit_reached'),
      { status: 429, type: 'billing_error', shouldRetry: false },
    ],
    [
      'a provider 529 answers 529 overloaded_error',
      sdkError(529, 'overloaded_error'),
      { status: 529, type: 'overloaded_error' },
    ],
    ['a provider 500 answers 502', sdkError(500, 'api_error'), { status: 502, type: 'api_error' }],
    [
      'a connection error answers 502',
      new APIConnectionError({ message: 'reset' }),
      { status: 502, type: 'api_error' },
    ],
    [
      'a provider 400 is passed through as 400',
      sdkError(400, 'invalid_request_error'),
      { status: 400, type: 'invalid_request_error', shouldRetry: false },
    ],
    [
      'a provider 404 is passed through as 404',
      sdkError(404, 'not_found_error'),
      { status: 404, type: 'not_found_error' },
    ],
    [
      'a provider 401 is the runtime’s credentials: 502',
      sdkError(401, 'authentication_error'),
      { status: 502, type: 'api_error', shouldRetry: false },
    ],
    [
      'an unknown error is a 500 that says nothing of its insides',
      new RangeError('secret detail'),
      { status: 500, type: 'api_error', message: 'internal error' },
    ],
  ])('%s', (_name, err, expected) => {
    expect(httpAnswer(err)).toMatchObject(expected);
  });

  it.each<[string, number | undefined, number]>([
    ['forced open with no end tells callers to come back after openDuration', undefined, 30],
    ['forced open for ten more seconds says ten seconds', 10_000, 10],
    ['forced open until a date years away says a minute at most', 3 * 365 * DAY_MS, 60],
  ])('a breaker %s', (_name, forMs, seconds) => {
    const breaker = new CircuitBreaker({
      name: `default/${PRIMARY_MODEL}`,
      clock: new ManualClock(NOW),
      options: breakerSettings({
        openDurationMs: 30_000,
        openRetryAfter: 'Remaining',
        override: {
          state: 'ForcedOpen',
          reason: 'provider incident',
          ...(forMs === undefined ? {} : { untilMs: NOW + forMs }),
        },
      }),
    });
    const mapping = httpAnswer(breaker.rejection(NOW));
    expect(mapping).toMatchObject({ status: 503, retryAfterSeconds: seconds });
  });

  it.each<[string, OpenAnswer, number, number | undefined, boolean]>([
    ['fails fast unset: no Retry-After, x-should-retry false', {}, 30_000, undefined, false],
    [
      'fails fast with None: no Retry-After, x-should-retry false',
      FAIL_FAST,
      30_000,
      undefined,
      false,
    ],
    ['with Remaining says the rest of the open time', WAIT, 30_000, 30, true],
    [
      'with Bounded says the rest of the open time when shorter than the cap',
      { openRetryAfter: 'Bounded', openMaxRetryAfterMs: 5_000 },
      3_000,
      3,
      true,
    ],
    [
      'with Bounded caps Retry-After at maxRetryAfter',
      { openRetryAfter: 'Bounded', openMaxRetryAfterMs: 5_000 },
      30_000,
      5,
      true,
    ],
  ])('an open breaker %s', (_name, answer, remainingMs, seconds, shouldRetry) => {
    const mapping = httpAnswer(new CircuitOpenError('b', 'Open', remainingMs, answer));
    expect(mapping.status).toBe(503);
    expect(mapping.type).toBe('overloaded_error');
    expect(mapping.retryAfterSeconds).toBe(seconds);
    expect(mapping.shouldRetry).toBe(shouldRetry);
  });

  it.each<[string, OpenAnswer['openRetryAfter'], number | undefined]>([
    ['fails fast with no policy set', 'None', undefined],
    ['with Remaining says a minute at most', 'Remaining', 60],
  ])('a breaker forced open until a date years away %s', (_name, openRetryAfter, seconds) => {
    const breaker = new CircuitBreaker({
      name: `default/${PRIMARY_MODEL}`,
      clock: new ManualClock(NOW),
      options: breakerSettings({
        openRetryAfter,
        override: { state: 'ForcedOpen', reason: 'incident', untilMs: NOW + 3 * 365 * DAY_MS },
      }),
    });
    expect(httpAnswer(breaker.rejection(NOW)).retryAfterSeconds).toBe(seconds);
  });

  it('never answers Retry-After: 0', () => {
    expect(httpAnswer(new RateLimitedError('a', 'provider', 1)).retryAfterSeconds).toBe(1);
  });

  it("builds the Anthropic error body, with the runtime's request id for its own refusal", () => {
    expect(toAnthropicErrorBody(httpAnswer(new TimeoutError(5)), 'req_runtime')).toEqual({
      type: 'error',
      error: { type: 'timeout_error', message: 'call timed out after 5 ms' },
      request_id: 'req_runtime',
    });
  });

  it.each([
    ['an overloaded provider', sdkError(529, 'overloaded_error', { 'request-id': 'req_011P' })],
    ['a refused request', sdkError(400, 'invalid_request_error', { 'request-id': 'req_011P' })],
    ['a rate-limited provider', sdkError(429, 'rate_limit_error', { 'request-id': 'req_011P' })],
  ])("carries the provider's request id for %s", (_case, err) => {
    const mapping = httpAnswer(err);
    expect(mapping.requestId).toBe('req_011P');
    expect(toAnthropicErrorBody(mapping, 'req_runtime').request_id).toBe('req_011P');
  });

  it("carries the runtime's id when the provider's error named none", () => {
    const mapping = httpAnswer(sdkError(500, 'api_error'));
    expect(mapping.requestId).toBeUndefined();
    expect(toAnthropicErrorBody(mapping, 'req_runtime').request_id).toBe('req_runtime');
  });
});

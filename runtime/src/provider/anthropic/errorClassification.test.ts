import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import { describe, expect, it } from '@jest/globals';
import {
  classifyError,
  classifyHttpOutcome,
  errorHeaders,
  HttpStatusError,
} from './errorClassification.ts';
import type { OutcomeClass } from '../../guard/classification.ts';
import { DEFAULT_BREAKER_SETTINGS } from '../../guard/breakerOptions.ts';
import {
  BulkheadFullError,
  CancelledError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../../guard/errors.ts';
import { readHeader } from '../../guard/headers.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');

function body(type: string, message = 'something', errorCode?: string) {
  return {
    type: 'error',
    error: { type, message, ...(errorCode ? { details: { error_code: errorCode } } : {}) },
  };
}

function sdkError(status: number, b: object, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, b, undefined, new Headers(headers));
}

describe('classifyError with @anthropic-ai/sdk errors', () => {
  it.each<[string, unknown, OutcomeClass, boolean]>([
    [
      'a 529 overloaded_error is Overloaded and retryable',
      sdkError(529, body('overloaded_error')),
      'Overloaded',
      true,
    ],
    [
      'a 500 api_error is a ServerError and retryable',
      sdkError(500, body('api_error')),
      'ServerError',
      true,
    ],
    ['a 503 is a ServerError', sdkError(503, body('api_error')), 'ServerError', true],
    ['a 502 without a body is a ServerError', sdkError(502, {}), 'ServerError', true],
    ['a 504 timeout_error is a Timeout', sdkError(504, body('timeout_error')), 'Timeout', true],
    ['a 408 is a Timeout', sdkError(408, body('timeout_error')), 'Timeout', true],
    [
      'a 429 rate_limit_error is RateLimited and retryable',
      sdkError(429, body('rate_limit_error')),
      'RateLimited',
      true,
    ],
    [
      'a 429 with enforced_spend_limit_reached is a spend limit, never retried',
      sdkError(429, body('rate_limit_error', 'over the limit', 'enforced_spend_limit_reached')),
      'SpendLimited',
      false,
    ],
    [
      'a 429 with contract_spend_limit_reached is a spend limit',
      sdkError(429, body('rate_limit_error', 'x', 'contract_spend_limit_reached')),
      'SpendLimited',
      false,
    ],
    [
      'a 429 whose message mentions the credit balance is a spend limit',
      sdkError(429, body('rate_limit_error', 'Your credit balance is too low to access the API')),
      'SpendLimited',
      false,
    ],
    [
      'a 429 with ramp_limit_exceeded is still RateLimited',
      sdkError(429, body('rate_limit_error', 'x', 'ramp_limit_exceeded')),
      'RateLimited',
      true,
    ],
    [
      'a billing_error is a spend limit',
      sdkError(400, body('billing_error')),
      'SpendLimited',
      false,
    ],
    ['a 402 is a spend limit', sdkError(402, body('billing_error')), 'SpendLimited', false],
    [
      'a 400 invalid_request_error is a ClientError, not retried',
      sdkError(400, body('invalid_request_error')),
      'ClientError',
      false,
    ],
    ['a 401 is a ClientError', sdkError(401, body('authentication_error')), 'ClientError', false],
    ['a 404 is a ClientError', sdkError(404, body('not_found_error')), 'ClientError', false],
    ['a 413 is a ClientError', sdkError(413, body('request_too_large')), 'ClientError', false],
    ['a 499 is Cancelled', sdkError(499, {}), 'Cancelled', false],
    [
      'a connection error is a ConnectionError',
      new APIConnectionError({ message: 'socket hang up' }),
      'ConnectionError',
      true,
    ],
    [
      'a connection error caused by a connect timeout is a Timeout',
      new APIConnectionError({
        cause: Object.assign(new Error('connect'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
      }),
      'Timeout',
      true,
    ],
    ['the SDK request timeout is a Timeout', new APIConnectionTimeoutError(), 'Timeout', true],
    ['a user abort is Cancelled', new APIUserAbortError(), 'Cancelled', false],
    [
      'an overloaded_error inside a stream (no status) is Overloaded',
      new APIError(undefined, body('overloaded_error'), undefined, undefined),
      'Overloaded',
      true,
    ],
  ])('%s', (_name, err, outcome, retryable) => {
    const c = classifyError(err, NOW);
    expect(c.outcome).toBe(outcome);
    expect(c.retryable).toBe(retryable);
  });

  it.each<[string, Record<string, string>, number]>([
    ['reads retry-after in seconds', { 'retry-after': '7' }, 7_000],
    ['prefers retry-after-ms', { 'retry-after-ms': '1500', 'retry-after': '7' }, 1_500],
    [
      'reads retry-after as an HTTP date',
      { 'retry-after': 'Sun, 01 Jun 2025 12:00:30 GMT' },
      30_000,
    ],
  ])('%s', (_name, headers, ms) => {
    expect(classifyError(sdkError(429, body('rate_limit_error'), headers), NOW).retryAfterMs).toBe(
      ms,
    );
  });

  it.each<[string, string, boolean]>([
    ['x-should-retry: false makes a 500 not retryable', 'false', false],
    ['x-should-retry: true makes a 409 retryable', 'true', true],
  ])('%s', (_name, header, retryable) => {
    const status = header === 'false' ? 500 : 409;
    const err = sdkError(status, body('api_error'), { 'x-should-retry': header });
    expect(classifyError(err, NOW).retryable).toBe(retryable);
  });

  it('gives the headers of an SDK error to the pacer', () => {
    const err = sdkError(429, body('rate_limit_error'), {
      'anthropic-ratelimit-requests-remaining': '0',
    });
    expect(readHeader(errorHeaders(err), 'anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(errorHeaders(new Error('x'))).toBeUndefined();
  });
});

describe('classifyError with the guard’s own and Node errors', () => {
  it.each<[string, unknown, OutcomeClass, boolean]>([
    ['the guard’s TimeoutError is a retryable Timeout', new TimeoutError(100), 'Timeout', true],
    ['CancelledError is Cancelled', new CancelledError(), 'Cancelled', false],
    [
      'an open breaker is a local rejection',
      new CircuitOpenError('b', 'Open', 10, DEFAULT_BREAKER_SETTINGS),
      'Rejected',
      false,
    ],
    [
      'a local rate limit is a local rejection',
      new RateLimitedError('l', 'requests', 10),
      'Rejected',
      false,
    ],
    [
      'a full bulkhead is a local rejection',
      new BulkheadFullError('b', 'queueFull', 10),
      'Rejected',
      false,
    ],
    [
      'ECONNRESET is a ConnectionError',
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      'ConnectionError',
      true,
    ],
    [
      'ETIMEDOUT is a Timeout',
      Object.assign(new Error('t'), { code: 'ETIMEDOUT' }),
      'Timeout',
      true,
    ],
    [
      'undici’s "fetch failed" is a ConnectionError',
      new TypeError('fetch failed', { cause: new Error('other side closed') }),
      'ConnectionError',
      true,
    ],
    [
      'a DOMException TimeoutError is a Timeout',
      new DOMException('t', 'TimeoutError'),
      'Timeout',
      true,
    ],
    ['an AbortError is Cancelled', new DOMException('a', 'AbortError'), 'Cancelled', false],
    [
      'a tool’s 500 thrown as HttpStatusError is a ServerError',
      new HttpStatusError('tool "stock"', { status: 500, body: 'database unavailable' }),
      'ServerError',
      true,
    ],
    [
      'a tool’s 504 thrown as HttpStatusError is a Timeout',
      new HttpStatusError('tool "stock"', { status: 504 }),
      'Timeout',
      true,
    ],
    ['anything else is Unknown and not retried', new RangeError('bug'), 'Unknown', false],
    ['a thrown string is Unknown', 'boom', 'Unknown', false],
  ])('%s', (_name, err, outcome, retryable) => {
    const c = classifyError(err, NOW);
    expect(c.outcome).toBe(outcome);
    expect(c.retryable).toBe(retryable);
  });

  it('carries the guard error’s retryAfterMs', () => {
    expect(
      classifyError(new CircuitOpenError('b', 'Open', 1234, DEFAULT_BREAKER_SETTINGS), NOW)
        .retryAfterMs,
    ).toBe(1234);
  });
});

describe('classifyHttpOutcome', () => {
  it.each<
    [
      string,
      { status: number; body?: unknown; headers?: Record<string, string> },
      OutcomeClass,
      boolean,
    ]
  >([
    ['a 200 is a Success', { status: 200 }, 'Success', false],
    ['a 529 is Overloaded', { status: 529, body: body('overloaded_error') }, 'Overloaded', true],
    [
      'a 500 with overloaded_error is Overloaded',
      { status: 500, body: body('overloaded_error') },
      'Overloaded',
      true,
    ],
    [
      'a 503 from a tool is a ServerError',
      { status: 503, body: 'Service Unavailable' },
      'ServerError',
      true,
    ],
    ['a 429 is RateLimited', { status: 429, headers: { 'Retry-After': '2' } }, 'RateLimited', true],
    [
      'a 429 whose JSON text mentions a spend limit is SpendLimited',
      {
        status: 429,
        body: JSON.stringify(body('rate_limit_error', 'You have reached your spend limit')),
      },
      'SpendLimited',
      false,
    ],
    ['a 422 is a ClientError', { status: 422, body: { error: 'bad input' } }, 'ClientError', false],
    ['a 404 is a ClientError', { status: 404 }, 'ClientError', false],
  ])('%s', (_name, outcome, expected, retryable) => {
    const c = classifyHttpOutcome(outcome, NOW);
    expect(c.outcome).toBe(expected);
    expect(c.retryable).toBe(retryable);
  });

  it('reads Retry-After from a plain header record whatever its case', () => {
    expect(
      classifyHttpOutcome({ status: 429, headers: { 'Retry-After': '2' } }, NOW).retryAfterMs,
    ).toBe(2_000);
  });
});

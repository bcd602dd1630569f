import { describe, expect, it } from '@jest/globals';
import { parseFaultSpec, type FaultAction, type FaultSpec } from './faultSpec.ts';

type ErrorAction = Extract<FaultAction, { kind: 'error' }>;

function error(status: number, errorType: string, extra: Partial<ErrorAction> = {}): ErrorAction {
  return {
    kind: 'error',
    status,
    errorType,
    retryAfterSeconds: undefined,
    inStream: undefined,
    ...extra,
  };
}

const overload = (extra: Partial<ErrorAction> = {}) => error(529, 'overloaded_error', extra);

function spec(action: FaultAction, extra: Partial<FaultSpec> = {}): FaultSpec {
  return { action, latencyMs: 0, rate: 1, count: undefined, ...extra };
}

describe('parseFaultSpec', () => {
  it.each<[string, unknown, FaultSpec]>([
    ['a 529 with the overloaded_error body', { status: 529 }, spec(overload())],
    [
      'a 429 with retry-after of one second by default',
      { status: 429, count: 3 },
      spec(error(429, 'rate_limit_error', { retryAfterSeconds: 1 }), { count: 3 }),
    ],
    [
      'a 500 whose body type is overridden',
      { status: 500, errorType: 'overloaded_error', retryAfterSeconds: 2, rate: 0.25 },
      spec(error(500, 'overloaded_error', { retryAfterSeconds: 2 }), { rate: 0.25 }),
    ],
    [
      'the status a known error type goes with',
      { errorType: 'api_error' },
      spec(error(500, 'api_error')),
    ],
    [
      'an overload in the middle of a stream, said the old way',
      { status: 529, midStream: true },
      spec(overload({ inStream: 'after-content' })),
    ],
    [
      'an overload before any content of a stream',
      { status: 529, inStream: 'before-content' },
      spec(overload({ inStream: 'before-content' })),
    ],
    [
      'an error type alone after some content, for one model on a fraction of requests',
      { errorType: 'api_error', inStream: 'after-content', model: 'm', rate: 0.5, count: 2 },
      spec(error(500, 'api_error', { inStream: 'after-content' }), {
        rate: 0.5,
        count: 2,
        model: 'm',
      }),
    ],
    ['a hang', { hang: true }, spec({ kind: 'hang', inStream: undefined })],
    [
      'a stall after some content',
      { hang: true, inStream: 'after-content' },
      spec({ kind: 'hang', inStream: 'after-content' }),
    ],
    [
      'a drop before any answer',
      { drop: true },
      spec({ kind: 'drop', inStream: undefined, plain: 'before-response' }),
    ],
    [
      'a drop in the middle of the answer: half a plain body, a stream after content',
      { drop: 'mid-response' },
      spec({ kind: 'drop', inStream: 'after-content', plain: 'mid-response' }),
    ],
    [
      'a cut stream before any content, and a plain request cut before any answer',
      { drop: true, inStream: 'before-content' },
      spec({ kind: 'drop', inStream: 'before-content', plain: 'before-response' }),
    ],
    [
      'latency alone',
      { latencyMs: 250, hang: false, drop: false, midStream: false },
      spec({ kind: 'none' }, { latencyMs: 250 }),
    ],
    [
      'a 529 for one model only',
      { status: 529, model: 'claude-sonnet-5-5' },
      spec(overload(), { model: 'claude-sonnet-5-5' }),
    ],
    [
      'a 529 for Bedrock only',
      { status: 529, provider: 'bedrock' },
      spec(overload(), { provider: 'bedrock' }),
    ],
  ])('reads %s', (_name, body, fault) => {
    expect(parseFaultSpec(body)).toEqual({ ok: true, fault });
  });

  it.each<[string, unknown, string]>([
    ['a body that is not an object', [1], 'body'],
    ['an unknown field', { stauts: 500 }, 'stauts'],
    ['a status below 400', { status: 200 }, 'status'],
    ['a status that is not an integer', { status: '500' }, 'status'],
    ['an errorType that is not snake_case', { status: 500, errorType: 'Overloaded' }, 'errorType'],
    ['an unknown errorType without status', { errorType: 'odd_error' }, 'status'],
    ['a rate above 1', { status: 500, rate: 1.5 }, 'rate'],
    ['a count of zero', { status: 500, count: 0 }, 'count'],
    ['a negative latency', { latencyMs: -1 }, 'latencyMs'],
    ['a non-boolean hang', { hang: 'yes' }, 'hang'],
    ['an unknown drop mode', { drop: 'later' }, 'drop'],
    ['a negative retryAfterSeconds', { status: 429, retryAfterSeconds: -1 }, 'retryAfterSeconds'],
    ['a midStream that is not a boolean', { status: 529, midStream: 'yes' }, 'midStream'],
    ['a midStream without an error', { drop: true, midStream: true }, 'midStream'],
    ['an unknown stream point', { status: 529, inStream: 'middle' }, 'inStream'],
    ['an inStream with only latency', { inStream: 'after-content', latencyMs: 5 }, 'inStream'],
    ['an inStream alone', { inStream: 'before-content' }, 'inStream'],
    ['two actions at once', { status: 500, hang: true }, 'status'],
    ['a fault that does nothing', { rate: 0.5 }, 'status'],
    ['an empty model', { status: 529, model: '' }, 'model'],
    ['an unknown provider', { status: 529, provider: 'azure' }, 'provider'],
    ['a model that is not a string', { status: 529, model: 5 }, 'model'],
    ['a model alone', { model: 'claude-sonnet-5-5' }, 'status'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const parsed = parseFaultSpec(body);
    expect(parsed).toMatchObject({ ok: false, field });
    if (!parsed.ok) expect(parsed.message.startsWith(`${field}: `)).toBe(true);
  });

  it.each<[string, unknown, string, string]>([
    [
      'midStream and inStream together',
      { status: 529, midStream: true, inStream: 'before-content' },
      'midStream',
      'give inStream alone',
    ],
    ['midStream with a hang', { hang: true, midStream: true }, 'midStream', 'use inStream'],
    [
      'inStream with a mid-response drop',
      { drop: 'mid-response', inStream: 'before-content' },
      'inStream',
      'drop: true',
    ],
    [
      'inStream without an action',
      { inStream: 'after-content', rate: 0.5 },
      'inStream',
      'status/errorType, hang: true or drop: true',
    ],
  ])('refuses %s, naming the field and the fix', (_name, body, field, fix) => {
    const parsed = parseFaultSpec(body);
    expect(parsed).toMatchObject({ ok: false, field, message: expect.stringContaining(fix) });
  });
});

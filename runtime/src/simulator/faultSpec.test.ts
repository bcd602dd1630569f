import { describe, expect, it } from '@jest/globals';
import { parseFaultSpec, type FaultSpec } from './faultSpec.ts';

describe('parseFaultSpec', () => {
  it.each<[string, unknown, FaultSpec]>([
    [
      'a 529 with the overloaded_error body',
      { status: 529 },
      {
        action: {
          kind: 'error',
          status: 529,
          errorType: 'overloaded_error',
          retryAfterSeconds: undefined,
          midStream: false,
        },
        latencyMs: 0,
        rate: 1,
        count: undefined,
      },
    ],
    [
      'a 429 with retry-after of one second by default',
      { status: 429, count: 3 },
      {
        action: {
          kind: 'error',
          status: 429,
          errorType: 'rate_limit_error',
          retryAfterSeconds: 1,
          midStream: false,
        },
        latencyMs: 0,
        rate: 1,
        count: 3,
      },
    ],
    [
      'a 500 whose body type is overridden',
      { status: 500, errorType: 'overloaded_error', retryAfterSeconds: 2, rate: 0.25 },
      {
        action: {
          kind: 'error',
          status: 500,
          errorType: 'overloaded_error',
          retryAfterSeconds: 2,
          midStream: false,
        },
        latencyMs: 0,
        rate: 0.25,
        count: undefined,
      },
    ],
    [
      'the status a known error type goes with',
      { errorType: 'api_error' },
      {
        action: {
          kind: 'error',
          status: 500,
          errorType: 'api_error',
          retryAfterSeconds: undefined,
          midStream: false,
        },
        latencyMs: 0,
        rate: 1,
        count: undefined,
      },
    ],
    [
      'an overload in the middle of a stream',
      { status: 529, midStream: true },
      {
        action: {
          kind: 'error',
          status: 529,
          errorType: 'overloaded_error',
          retryAfterSeconds: undefined,
          midStream: true,
        },
        latencyMs: 0,
        rate: 1,
        count: undefined,
      },
    ],
    [
      'a hang',
      { hang: true },
      { action: { kind: 'hang' }, latencyMs: 0, rate: 1, count: undefined },
    ],
    [
      'a drop before any answer',
      { drop: true },
      {
        action: { kind: 'drop', when: 'before-response' },
        latencyMs: 0,
        rate: 1,
        count: undefined,
      },
    ],
    [
      'a drop in the middle of the answer',
      { drop: 'mid-response' },
      { action: { kind: 'drop', when: 'mid-response' }, latencyMs: 0, rate: 1, count: undefined },
    ],
    [
      'latency alone',
      { latencyMs: 250, hang: false, drop: false },
      { action: { kind: 'none' }, latencyMs: 250, rate: 1, count: undefined },
    ],
    [
      'a 529 for one model only',
      { status: 529, model: 'claude-sonnet-4-5' },
      {
        action: {
          kind: 'error',
          status: 529,
          errorType: 'overloaded_error',
          retryAfterSeconds: undefined,
          midStream: false,
        },
        latencyMs: 0,
        rate: 1,
        count: undefined,
        model: 'claude-sonnet-4-5',
      },
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
    ['two actions at once', { status: 500, hang: true }, 'status'],
    ['a fault that does nothing', { rate: 0.5 }, 'status'],
    ['an empty model', { status: 529, model: '' }, 'model'],
    ['a model that is not a string', { status: 529, model: 5 }, 'model'],
    ['a model alone', { model: 'claude-sonnet-4-5' }, 'status'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const parsed = parseFaultSpec(body);
    expect(parsed).toMatchObject({ ok: false, field });
    if (!parsed.ok) expect(parsed.message.startsWith(`${field}: `)).toBe(true);
  });
});

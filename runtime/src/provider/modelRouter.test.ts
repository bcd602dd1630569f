import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { anthropicClassifier } from './anthropic/errorClassification.ts';
import { describe, expect, it } from '@jest/globals';
import {
  BulkheadFullError,
  CancelledError,
  CircuitOpenError,
  RateLimitedError,
  TimeoutError,
} from '../guard/errors.ts';
import type { RateLimiterCounters } from '../guard/rateLimiter.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import type { Backend } from './backendPool.ts';
import { GuardSet } from '../guard/guardSet/guardSet.ts';
import { DEFAULT_BREAKER_SETTINGS } from '../guard/breakerOptions.ts';
import { AnthropicWire } from './backendWire.ts';
import {
  DEFAULT_ANTHROPIC_VERSION,
  type ForwardRequest,
  type MessagesForwarder,
} from './messagesForwarder.ts';
import { fallbackMayHelp } from './modelRouter.ts';
import { routerOver, testBackend } from './routerFixture.ts';

const overloaded = APIError.generate(
  529,
  { type: 'error', error: { type: 'overloaded_error', message: 'overloaded' } },
  undefined,
  new Headers(),
);

describe('fallbackMayHelp', () => {
  it.each<[string, unknown, boolean]>([
    [
      'tries another model after an open breaker on this model',
      new CircuitOpenError('default/a', 'Open', 1_000, DEFAULT_BREAKER_SETTINGS),
      true,
    ],
    ['tries another model after an overloaded provider', overloaded, true],
    ['tries another model after a timed-out attempt', new TimeoutError(1_000), true],
    [
      'stays put after the agent’s own rate limiter refused: every model shares it',
      new RateLimitedError('agent', 'requests', 1_000),
      false,
    ],
    [
      'stays put after the agent’s model bulkhead refused: every model shares it',
      new BulkheadFullError('agent/models', 'queueFull', 1_000),
      false,
    ],
  ])('%s', (_name, err, expected) => {
    expect(fallbackMayHelp(err, 0)).toBe(expected);
  });
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

describe('ModelRouter', () => {
  it('counts one rate-limit refusal per refused request, however many fallback models there are', async () => {
    const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
    doc.model.fallbacks = ['claude-haiku-5-5', 'claude-opus-5-5'];
    doc.rateLimit.requests = { replicaPerSecond: 0.001, replicaBurst: 1 };
    doc.rateLimit.onLimit = 'Reject';
    const clock = new ManualClock(0);
    const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
    const answer = () =>
      new Response(JSON.stringify({ usage: { input_tokens: 1, output_tokens: 1 } }), {
        status: 200,
      });
    const backend = testBackend({
      client: { post: () => ({ asResponse: () => Promise.resolve(answer()) }) },
    });
    const router = routerOver(backend, guard, doc, clock);
    const send = () =>
      router
        .send({
          via: 'sdk',
          body: { max_tokens: 16, messages: [] },
          stream: false,
          models: [doc.model.name, ...doc.model.fallbacks],
          signal: new AbortController().signal,
        })
        .then(
          () => 'served',
          (err: unknown) => (err instanceof RateLimitedError ? 'limited' : String(err)),
        );
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await send());
    expect(outcomes).toEqual(['served', 'limited', 'limited', 'limited']);
    const { counters } = guard.rateLimiter() as { counters: RateLimiterCounters };
    expect(counters.admitted).toBe(1);
    expect(counters.rejected.requests).toBe(3);
  });

  it('calls a request the caller cancelled Cancelled, and the breaker never counts it', async () => {
    const clock = new ManualClock(0);
    const doc = samplePolicyDocument();
    const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
    const caller = new AbortController();
    // What the SDK throws when the transport was cancelled by the caller's signal.
    const backend = testBackend({
      client: {
        post: () => ({
          asResponse: () => {
            const reason = new Error('caller went away');
            caller.abort(reason);
            return Promise.reject(new APIConnectionError({ cause: reason }));
          },
        }),
      },
    });
    const router = routerOver(backend, guard, doc, clock);
    const err = await router
      .send({
        via: 'sdk',
        body: { max_tokens: 16, messages: [] },
        stream: false,
        models: [doc.model.name, ...doc.model.fallbacks],
        signal: caller.signal,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    const breakers = guard.breakers() as Record<string, { counters: { failures: number } }>;
    expect(breakers[`default/${doc.model.name}`]?.counters.failures).toBe(0);
    expect(backend.inFlight).toBe(0);
  });

  it('forwards the caller’s bytes to the model they name, and a re-encoded body to a fallback', async () => {
    const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
    doc.model.fallbacks = ['claude-haiku-5-5'];
    doc.retry.maxAttempts = 1;
    const clock = new ManualClock(0);
    const guard = new GuardSet<Backend>({ classifier: anthropicClassifier, doc, clock });
    const sent: ForwardRequest[] = [];
    const backend = testBackend({
      wire: new AnthropicWire({
        send: (request: ForwardRequest) => {
          sent.push(request);
          return sent.length === 1
            ? Promise.reject(overloaded)
            : Promise.resolve({
                kind: 'plain',
                status: 200,
                headers: { get: () => null },
                text: '{"usage":{"input_tokens":2,"output_tokens":3}}',
              });
        },
      } as unknown as MessagesForwarder),
    });
    const router = routerOver(backend, guard, doc, clock);
    // Spacing and key order a re-encoding would not keep.
    const rawBody = `{ "max_tokens": 16,  "model": "${doc.model.name}", "messages": [] }`;
    const routed = await router.send({
      via: 'forward',
      body: JSON.parse(rawBody) as Record<string, unknown>,
      rawBody,
      stream: false,
      models: [doc.model.name, 'claude-haiku-5-5'],
      signal: new AbortController().signal,
      headers: { 'anthropic-beta': 'b1' },
    });
    expect(routed).toMatchObject({ model: 'claude-haiku-5-5', fallbackUsed: true });
    expect(sent.map((r) => r.body)).toEqual([
      rawBody,
      JSON.stringify({ max_tokens: 16, model: 'claude-haiku-5-5', messages: [], stream: false }),
    ]);
    expect(sent[0]?.headers).toEqual([
      'anthropic-beta',
      'b1',
      'anthropic-version',
      DEFAULT_ANTHROPIC_VERSION,
    ]);
    expect(backend.inFlight).toBe(0);
  });
});

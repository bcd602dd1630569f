/**
 * A failed attempt's error is classified once, where it failed, and that one classification
 * travels with it: to the breaker and the retry (the guard), the failover decision and the
 * attempt metrics (the router), the HTTP answer and the stats (the route).
 */
import { Readable } from 'node:stream';
import { APIConnectionError } from '@anthropic-ai/sdk';
import { describe, expect, it } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import {
  classificationOf,
  type Classification,
  type ErrorClassifier,
} from '../guard/classification.ts';
import { GuardSet } from '../guard/guardSet/guardSet.ts';
import { failCall, type ProviderCall } from '../server/routeCall.ts';
import type { RuntimeContext } from '../server/runtimeContext.ts';
import { anthropicClassifier } from './anthropic/errorClassification.ts';
import type { Backend } from './backendPool.ts';
import type { ForwardedAnswer } from './exchange.ts';
import { anthropicStatusError } from './exchange.ts';
import { readableSource, type StreamSink } from './streamRelay.ts';
import { routerOver, testBackend } from './routerFixture.ts';

/** The Anthropic API's classifier, counting what it is asked. */
class CountingClassifier implements ErrorClassifier {
  calls = 0;
  last: Classification | undefined;
  classify(err: unknown, now: number): Classification {
    this.calls++;
    return (this.last = anthropicClassifier.classify(err, now));
  }
  headersOf(err: unknown) {
    return anthropicClassifier.headersOf(err);
  }
}

const overloadedBody = JSON.stringify({
  type: 'error',
  error: { type: 'overloaded_error', message: 'Overloaded' },
});
const rateLimitedBody = JSON.stringify({
  type: 'error',
  error: { type: 'rate_limit_error', message: 'slow down' },
});

const streamOf = (text: string): ForwardedAnswer => ({
  kind: 'stream',
  status: 200,
  headers: new Headers({ 'content-type': 'text/event-stream' }),
  body: readableSource(Readable.from([Buffer.from(text)])),
});

class NullSink implements StreamSink {
  committed = false;
  servedBy: string | undefined = undefined;
  errorEventSent = false;
  begin(): void {
    // nothing reaches the caller before content
  }
  write(): boolean {
    return true;
  }
  onDrain(resume: () => void): void {
    resume();
  }
}

/** The route's collaborators, reduced to what a failed call's answer touches. */
function routeFixture(clock: ManualClock) {
  const seen = { status: 0, statsErrorType: '', retryAfter: '' };
  const ctx = {
    clock,
    stats: {
      record: (_kind: string, _name: string, _ms: number, o: { errorType: string }) =>
        (seen.statsErrorType = o.errorType),
    },
    logger: { info: () => undefined },
    audit: { enabled: false },
  } as unknown as RuntimeContext;
  const request = { id: 'req-1' } as FastifyRequest;
  const reply = {
    raw: { headersSent: false },
    request,
    sent: false,
    header(name: string, value: string) {
      if (name === 'retry-after') seen.retryAfter = value;
      return reply;
    },
    code(status: number) {
      seen.status = status;
      return reply;
    },
    send: () => reply,
  };
  const call = {
    started: clock.now(),
    signal: new AbortController().signal,
  } as unknown as ProviderCall;
  const fail = (err: unknown) =>
    failCall(
      ctx,
      request,
      reply as unknown as FastifyReply,
      call,
      { route: 'messages', model: 'm', client: () => undefined },
      err,
    );
  return { seen, fail };
}

type Failure = () => Promise<ForwardedAnswer>;

describe('a failed attempt is classified once', () => {
  it.each<[string, boolean, Failure, { status: number; outcome: string; retryAfter?: string }]>([
    [
      'a 529 overloaded',
      false,
      () => Promise.reject(anthropicStatusError(529, overloadedBody, new Headers())),
      { status: 529, outcome: 'Overloaded' },
    ],
    [
      'a 429 with retry-after',
      false,
      () =>
        Promise.reject(
          anthropicStatusError(429, rateLimitedBody, new Headers({ 'retry-after': '7' })),
        ),
      { status: 429, outcome: 'RateLimited', retryAfter: '7' },
    ],
    [
      'an error event before the stream’s content',
      true,
      () => Promise.resolve(streamOf(`event: error\ndata: ${overloadedBody}\n\n`)),
      { status: 529, outcome: 'Overloaded' },
    ],
    [
      'a connection reset',
      false,
      () =>
        Promise.reject(
          new APIConnectionError({
            cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
          }),
        ),
      { status: 502, outcome: 'ConnectionError' },
    ],
  ])(
    '%s: by the guard’s classifier, once per attempt, through guard, router and route',
    async (_name, stream, failure, expected) => {
      // One model, one attempt: what is counted is that attempt's classifications.
      const sample = samplePolicyDocument();
      const doc: PolicyDocument = {
        ...sample,
        model: { ...sample.model, fallbacks: [] },
        retry: { ...sample.retry, maxAttempts: 1 },
      };
      const clock = new ManualClock(0);
      const classifier = new CountingClassifier();
      const guard = new GuardSet<Backend>({ classifier, doc, clock });
      const backend = testBackend({
        models: {},
        wire: { send: failure },
      });
      const attempts: string[] = [];
      const router = routerOver(backend, guard, doc, clock, (event) =>
        attempts.push(event.outcome),
      );
      const err = await router
        .send({
          via: 'forward',
          body: { max_tokens: 16, messages: [] },
          stream,
          ...(stream ? { sink: new NullSink() } : {}),
          models: [doc.model.name],
          signal: new AbortController().signal,
        })
        .catch((e: unknown) => e);
      const route = routeFixture(clock);
      route.fail(err);

      expect(attempts).toEqual([expected.outcome]);
      expect(classifier.calls).toBe(1);
      expect(classificationOf(err)).toBe(classifier.last);
      expect(route.seen).toMatchObject({
        status: expected.status,
        statsErrorType: expected.outcome,
      });
      if (expected.retryAfter !== undefined)
        expect(route.seen.retryAfter).toBe(expected.retryAfter);
    },
  );
});

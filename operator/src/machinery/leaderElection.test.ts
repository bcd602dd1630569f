import { describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { LeaderElector, type Lease, type LeaseRelease } from './leaderElection.ts';

const IDENTITY = 'me';

/** A lease API whose every call waits until the test answers it. */
class PendingLeaseApi {
  readonly #waiting: { verb: string; answer: (value?: unknown) => void }[] = [];
  /** Every patch body sent, answered or not. */
  readonly patches: unknown[] = [];

  readonly client = {
    get: () => this.#call('get'),
    create: (_kind: unknown, body: unknown) => this.#call('create', body),
    patch: (_kind: unknown, _ns: unknown, _name: unknown, body: unknown) =>
      this.#call('patch', body),
  } as unknown as KubeClient;

  /** Answers the oldest unanswered call of `verb`. */
  answer(verb: string, value?: unknown): void {
    const index = this.#waiting.findIndex((c) => c.verb === verb);
    if (index < 0) throw new Error(`no ${verb} is waiting for an answer`);
    this.#waiting.splice(index, 1)[0]?.answer(value);
  }

  #call(verb: string, body?: unknown): Promise<unknown> {
    if (verb === 'patch') this.patches.push(body);
    return new Promise((resolve) => this.#waiting.push({ verb, answer: resolve }));
  }
}

const heldByMe: Lease = {
  metadata: { name: 'lease', resourceVersion: '2' },
  spec: { holderIdentity: IDENTITY, leaseDurationSeconds: 10 },
};

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** An elector that has just created the lease and leads. */
async function leading() {
  const api = new PendingLeaseApi();
  const clock = new ManualClock();
  const elector = new LeaderElector({
    client: api.client,
    namespace: 'ns',
    name: 'lease',
    identity: IDENTITY,
    clock,
  });
  void elector.run(() => undefined);
  api.answer('get', undefined);
  await flush();
  api.answer('create', heldByMe);
  await flush();
  expect(elector.isLeader).toBe(true);
  return { api, clock, elector };
}

describe('LeaderElector.stop', () => {
  it('releases the lease it holds', async () => {
    const { api, elector } = await leading();
    const stopped = elector.stop();
    api.answer('get', heldByMe);
    await flush();
    api.answer('patch', heldByMe);
    expect(await stopped).toBe('released');
    expect(api.patches).toMatchObject([{ spec: { holderIdentity: null } }]);
  });

  it('gives up on the release after releaseTimeoutMs when the API server does not answer', async () => {
    const { clock, elector } = await leading();
    let outcome: LeaseRelease | undefined;
    void elector.stop().then((o) => (outcome = o));
    clock.advance(1_999);
    await flush();
    expect(outcome).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(outcome).toBe('timedOut');
  });

  it('writes nothing but the release once stopped, even when a renewal read answers late', async () => {
    const { api, clock, elector } = await leading();
    clock.advance(2_000); // the retry period: a renewal reads the lease
    await flush();
    const stopped = elector.stop();
    api.answer('get', heldByMe); // the renewal's read…
    await flush();
    api.answer('get', heldByMe); // …and the release's
    await flush();
    api.answer('patch', heldByMe);
    expect(await stopped).toBe('released');
    await flush();
    expect(api.patches).toMatchObject([{ spec: { holderIdentity: null } }]);
  });
});

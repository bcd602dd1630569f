import { describe, expect, it } from '@jest/globals';
import type { CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { overrideAcknowledgement, type OverrideStatus } from './acknowledgement.ts';
import { waitForAcknowledgement } from './waitForAcknowledgement.ts';

const GENERATION = 7;

function policy(status: Record<string, unknown> | undefined): CircuitBreakerPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'CircuitBreakerPolicy',
    metadata: { name: 'prod', namespace: 'ns', generation: GENERATION },
    spec: { override: { state: 'ForcedOpen', reason: 'INC-1', until: '2026-11-22T20:00:00Z' } },
    ...(status === undefined ? {} : { status: status }),
  };
}

const override = (over: Partial<OverrideStatus>): OverrideStatus => ({
  state: 'ForcedOpen',
  reason: 'INC-1',
  until: '2026-11-22T20:00:00Z',
  observedGeneration: GENERATION,
  applied: '3/3',
  agents: [{ name: 'support', applied: 3, replicas: 3 }],
  ...over,
});

const applied = (status: 'True' | 'False', observedGeneration = GENERATION) => ({
  type: 'OverrideApplied',
  status,
  reason: status === 'True' ? 'Applied' : 'Propagating',
  message: status === 'True' ? 'every replica applies ForcedOpen' : '2/3 replicas apply ForcedOpen',
  lastTransitionTime: '2026-11-22T19:00:00Z',
  observedGeneration,
});

describe('overrideAcknowledgement of a trip', () => {
  it.each([
    ['no status yet', undefined, false],
    [
      'an override of an older generation',
      { override: override({ observedGeneration: 6 }) },
      false,
    ],
    ['another state in force', { override: override({ state: 'ForcedClosed' }) }, false],
    ['2 of 3 replicas', { override: override({ applied: '2/3' }) }, false],
    [
      '3 of 3 but OverrideApplied still False',
      { override: override({}), conditions: [applied('False')] },
      false,
    ],
    [
      '3 of 3 and OverrideApplied True',
      { override: override({}), conditions: [applied('True')] },
      true,
    ],
    [
      '3 of 3, OverrideApplied False of an older generation',
      { override: override({}), conditions: [applied('False', 6)] },
      true,
    ],
    ['3 of 3 and no condition', { override: override({}) }, true],
  ])('with %s: done is %p', (_name, status, done) => {
    expect(overrideAcknowledgement(policy(status), 'ForcedOpen', GENERATION).done).toBe(done);
  });

  it('says how many replicas of each agent apply it', () => {
    const ack = overrideAcknowledgement(
      policy({ override: override({}) }),
      'ForcedOpen',
      GENERATION,
    );
    expect(ack).toMatchObject({
      applied: 3,
      replicas: 3,
      agents: [{ name: 'support', applied: 3, replicas: 3 }],
    });
  });

  it('says what it waits for while the operator has not seen the patch', () => {
    expect(overrideAcknowledgement(policy({}), 'ForcedOpen', GENERATION).detail).toBe(
      'the operator has not yet acknowledged generation 7',
    );
  });
});

describe('overrideAcknowledgement of a reset', () => {
  const replicas = (...forced: boolean[]) => forced.map((f) => ({ agent: 'support', forced: f }));

  it.each([
    ['the operator behind', { observedGeneration: 6 }, replicas(false, false), false],
    [
      'status.override still in force',
      { observedGeneration: 7, override: override({}) },
      replicas(false),
      false,
    ],
    ['a replica still forced', { observedGeneration: 7 }, replicas(false, true), false],
    ['every replica back to Auto', { observedGeneration: 7 }, replicas(false, false), true],
    ['no replica using the policy', { observedGeneration: 7 }, replicas(), true],
    [
      'OverrideApplied False for this generation (replicas still hold the last one)',
      { observedGeneration: 7, conditions: [applied('False')] },
      replicas(false, false),
      false,
    ],
    [
      'OverrideApplied True (NoOverride)',
      { observedGeneration: 7, conditions: [applied('True')] },
      replicas(false, false),
      true,
    ],
  ])('with %s: done is %p', (_name, status, reports, done) => {
    const ack = overrideAcknowledgement(policy(status), 'Auto', GENERATION, reports);
    expect(ack.done).toBe(done);
    expect(ack.replicas).toBe(reports.length);
  });
});

describe('waitForAcknowledgement', () => {
  it('polls until the status acknowledges, and says how long that took', async () => {
    const clock = new ManualClock(0);
    const statuses = [{}, { override: override({ applied: '1/3' }) }, { override: override({}) }];
    let reads = 0;
    const waiting = waitForAcknowledgement({
      read: () => {
        const status = statuses[Math.min(reads, statuses.length - 1)];
        reads++;
        return Promise.resolve({ policy: policy(status) });
      },
      wanted: 'ForcedOpen',
      generation: GENERATION,
      timeoutMs: 10_000,
      intervalMs: 250,
      clock,
    });
    for (let i = 0; i < 2; i++) {
      await Promise.resolve();
      await Promise.resolve();
      clock.advance(250);
    }
    const outcome = await waiting;
    expect(outcome).toMatchObject({ acknowledged: true, waitedMs: 500 });
    expect(reads).toBe(3);
  });

  it('gives up at the timeout with what the status said last', async () => {
    const clock = new ManualClock(0);
    const waiting = waitForAcknowledgement({
      read: () => Promise.resolve({ policy: policy({ override: override({ applied: '2/3' }) }) }),
      wanted: 'ForcedOpen',
      generation: GENERATION,
      timeoutMs: 1_000,
      intervalMs: 400,
      clock,
    });
    // The last pause is cut short to end at the timeout.
    for (const step of [400, 400, 200]) {
      await Promise.resolve();
      await Promise.resolve();
      clock.advance(step);
    }
    const outcome = await waiting;
    expect(outcome.acknowledged).toBe(false);
    expect(outcome.waitedMs).toBe(1_000);
    expect(outcome.ack.detail).toBe('applied on 2/3 replicas');
  });
});

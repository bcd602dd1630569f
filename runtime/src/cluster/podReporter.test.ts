import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { encodeBreakerReport } from '../../../contract/src/reporting/breakerReport.ts';
import { PodReporter, type ReportedState } from './podReporter.ts';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A reporter over whatever `read` gives, on a manual clock: `report()` pokes it and lets the
 * coalesced patch go out; `patches` holds every patch sent.
 */
function recordingReporter(read: () => ReportedState): {
  patches: Record<string, string>[];
  report: () => Promise<void>;
  poke: () => void;
} {
  const clock = new ManualClock(0);
  const patches: Record<string, string>[] = [];
  const reporter = new PodReporter({
    clock,
    read,
    patch: (a) => {
      patches.push(a);
      return Promise.resolve();
    },
  });
  return {
    patches,
    poke: () => {
      reporter.poke();
    },
    report: async () => {
      reporter.poke();
      clock.advance(0);
      await flush();
    },
  };
}

describe('PodReporter', () => {
  it('patches only what changed, and coalesces a burst of pokes into one patch', async () => {
    let state: ReportedState = { policyHash: 'h1', breakers: {} };
    const { patches, report, poke } = recordingReporter(() => state);
    poke();
    await report();
    expect(patches).toHaveLength(1);
    state = {
      policyHash: 'h1',
      breakers: { 'default/m': { state: 'Open', since: '2026-01-01T00:00:00.000Z', trips: 1 } },
    };
    await report();
    expect(patches).toHaveLength(2);
    expect(Object.keys(patches[1] ?? {})).toEqual(['breakwater.dev/breakers']);
    await report();
    expect(patches).toHaveLength(2);
  });

  it('reports the rate-limit store only once there is one, and empties it when it goes', async () => {
    let state: ReportedState = { policyHash: 'h1', breakers: {} };
    const { patches, report } = recordingReporter(() => state);
    await report();
    expect(Object.keys(patches[0] ?? {})).not.toContain('breakwater.dev/rate-limit-store');
    state = { ...state, store: { state: 'Fallback', reason: 'Slow', since: 'T' } };
    await report();
    expect(patches[1]).toEqual({
      'breakwater.dev/rate-limit-store': '{"state":"Fallback","reason":"Slow","since":"T"}',
    });
    state = { policyHash: 'h1', breakers: {} };
    await report();
    expect(patches[2]).toEqual({ 'breakwater.dev/rate-limit-store': '' });
  });

  it('retries a failed patch with backoff', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const reporter = new PodReporter({
      clock,
      intervalMs: 100,
      read: () => ({ policyHash: 'h', breakers: {} }),
      patch: () => (++calls === 1 ? Promise.reject(new Error('conflict')) : Promise.resolve()),
    });
    reporter.poke();
    clock.advance(0);
    await flush();
    expect(calls).toBe(1);
    clock.advance(200);
    await flush();
    expect(calls).toBe(2);
  });

  it('adds the provider-headroom annotation once a provider reported a limit, and only then', () => {
    const reporter = (state: ReportedState) =>
      new PodReporter({
        clock: new ManualClock(0),
        read: () => state,
        patch: () => Promise.resolve(),
      });
    const without = reporter({ policyHash: 'h1', breakers: {}, headroom: {} }).annotations();
    expect(Object.keys(without).sort()).toEqual([
      'breakwater.dev/breakers',
      'breakwater.dev/policy-hash',
    ]);
    const entry = {
      ratio: 0.1,
      limitedBy: 'requests' as const,
      resetAt: '2026-11-22T19:01:00Z',
      observedAt: '2026-11-22T19:00:00.000Z',
    };
    const withHeadroom = reporter({ policyHash: 'h1', breakers: {}, headroom: { default: entry } });
    expect(
      JSON.parse(withHeadroom.annotations()['breakwater.dev/provider-headroom'] ?? ''),
    ).toEqual({
      default: entry,
    });
  });

  it("replaces the previous process's budget report in its first patch, beside its start time", async () => {
    const runtime = { started: '2026-11-24T10:00:00.000Z' };
    let state: ReportedState = { policyHash: undefined, breakers: {}, runtime };
    const { patches, report } = recordingReporter(() => state);
    // Before its first policy it knows no budgets: the pod's old report is emptied with the
    // new start time, so the operator never reads the old spend as this process's.
    await report();
    expect(patches[0]).toMatchObject({
      'breakwater.dev/runtime': JSON.stringify(runtime),
      'breakwater.dev/budgets': '',
      'breakwater.dev/durable-runs': '',
    });
    state = {
      ...state,
      budgets: {
        source: 'replica',
        budgets: {
          daily: {
            periodStart: '2026-11-24T00:00:00.000Z',
            spent: { picoUsd: 7n, tokens: 1 },
            held: { picoUsd: 0n, tokens: 0 },
          },
        },
      },
    };
    await report();
    expect(Object.keys(patches[1] ?? {})).toEqual(['breakwater.dev/budgets']);
    expect(patches[1]?.['breakwater.dev/budgets']).toContain('"usd":"7"');
  });

  describe('a new policy is not held by the interval that coalesces breaker flaps', () => {
    /** A reporter whose patches wait until `answer()`, on a manual clock with a 1 s interval. */
    function heldReporter(read: () => ReportedState) {
      const clock = new ManualClock(0);
      const patches: Record<string, string>[] = [];
      const answers: (() => void)[] = [];
      const reporter = new PodReporter({
        clock,
        read,
        intervalMs: 1_000,
        patch: (a) => {
          patches.push(a);
          return new Promise<void>((resolve) => answers.push(resolve));
        },
      });
      return {
        patches,
        reporter,
        clock,
        /** Answers the oldest patch in flight and lets what follows it run (no time passes). */
        answer: async () => {
          answers.shift()?.();
          await flush();
          clock.advance(0);
          await flush();
        },
      };
    }
    const open = { 'default/m': { state: 'Open' as const, since: 'T', trips: 1 } };

    it('sends a policy applied while a patch is in flight as soon as that patch returns', async () => {
      let state: ReportedState = { policyHash: 'h1', breakers: {} };
      const { patches, reporter, clock, answer } = heldReporter(() => state);
      reporter.poke();
      clock.advance(0);
      await flush();
      expect(patches).toHaveLength(1);
      state = { policyHash: 'h2', breakers: {} };
      reporter.poke();
      await answer();
      expect(patches[1]).toEqual({ 'breakwater.dev/policy-hash': 'h2' });
    });

    it('sends a policy at once while a breaker flap waits for the interval', async () => {
      let state: ReportedState = { policyHash: 'h1', breakers: {} };
      const { patches, reporter, clock, answer } = heldReporter(() => state);
      reporter.poke();
      clock.advance(0);
      await flush();
      state = { policyHash: 'h1', breakers: open };
      reporter.poke();
      await answer();
      // The flap waits for the interval: nothing more yet.
      expect(patches).toHaveLength(1);
      state = { policyHash: 'h2', breakers: open };
      reporter.poke();
      clock.advance(0);
      await flush();
      expect(patches[1]).toEqual({
        'breakwater.dev/policy-hash': 'h2',
        'breakwater.dev/breakers': encodeBreakerReport(open),
      });
    });

    it('still sends a breaker flap during a patch an interval later, not at once', async () => {
      let state: ReportedState = { policyHash: 'h1', breakers: {} };
      const { patches, reporter, clock, answer } = heldReporter(() => state);
      reporter.poke();
      clock.advance(0);
      await flush();
      state = { policyHash: 'h1', breakers: open };
      reporter.poke();
      await answer();
      expect(patches).toHaveLength(1);
      clock.advance(1_000);
      await flush();
      expect(patches).toHaveLength(2);
    });
  });
});

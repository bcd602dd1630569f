import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { RunLedger } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  encodeDurableReport,
} from '../../../contract/src/reporting/durableReport.ts';
import { RUNTIME_ANNOTATION } from '../../../contract/src/reporting/runtimeReport.ts';
import { foldRuns, runLedgerPod, runsStatus, type RunLedgerPod } from './runLedger.ts';

const pod = (
  uid: string,
  started: string,
  resumed: number,
  replayed = 0,
  active = 0,
): RunLedgerPod => ({
  uid,
  running: true,
  process: { started, active, counts: { resumed, diverged: 0, replayedCalls: replayed } },
});
const silent = (uid: string): RunLedgerPod => ({ uid, running: true });
const totals = (pods: RunLedgerPod[], previous?: RunLedger) => {
  const { ledger: _ledger, ...counts } = runsStatus(foldRuns(previous, pods), pods);
  return counts;
};

/** Two pods that each resumed a run and replayed three calls, as the operator last wrote them. */
const twoResumed = foldRuns(undefined, [pod('a', 's1', 1, 3), pod('b', 's1', 1, 3)]);

describe('foldRuns', () => {
  it.each<[string, RunLedgerPod[], number, number]>([
    [
      'keeps the counts while the same processes run',
      [pod('a', 's1', 1, 3), pod('b', 's1', 1, 3)],
      2,
      6,
    ],
    ['adds what running processes do next', [pod('a', 's1', 2, 5), pod('b', 's1', 1, 3)], 3, 8],
    [
      'keeps every count when a pod is deleted mid-run and its replacement resumes the run',
      [pod('b', 's1', 1, 3), pod('c', 's2', 1, 4)],
      3,
      10,
    ],
    [
      'keeps a restarted container’s old counts and counts its new process from zero',
      [pod('a', 's9', 0, 0), pod('b', 's1', 1, 3)],
      2,
      6,
    ],
    [
      'keeps the entry of a pod whose new process has not reported yet',
      [silent('a'), pod('b', 's1', 1, 3)],
      2,
      6,
    ],
    [
      'keeps the high-water mark when a report shrinks',
      [pod('a', 's1', 0, 1), pod('b', 's1', 1, 3)],
      2,
      6,
    ],
    ['keeps every count when the agent scales to zero', [], 2, 6],
  ])('%s', (_name, pods, resumed, replayed) => {
    const counts = totals(pods, twoResumed);
    expect(counts.resumed).toBe(resumed);
    expect(counts.replayedCalls).toBe(replayed);
  });

  it('counts the active runs of running pods only', () => {
    const pods = [pod('a', 's1', 0, 0, 2), { ...pod('b', 's1', 0, 0, 5), running: false }];
    expect(totals(pods).active).toBe(2);
  });

  it('never lets a total fall, whatever pods come and go', () => {
    const step = fc.array(
      fc.record({
        uid: fc.constantFrom('a', 'b', 'c'),
        started: fc.constantFrom('s1', 's2'),
        resumed: fc.nat(5),
        replayed: fc.nat(20),
      }),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 8 }), (steps) => {
        let ledger: RunLedger | undefined;
        let last = { resumed: 0, replayedCalls: 0 };
        for (const pods of steps) {
          const unique = [...new Map(pods.map((p) => [p.uid, p])).values()];
          const view = unique.map((p) => pod(p.uid, p.started, p.resumed, p.replayed));
          const next = foldRuns(ledger, view);
          ledger = next;
          const now = runsStatus(next, view);
          expect(now.resumed).toBeGreaterThanOrEqual(last.resumed);
          expect(now.replayedCalls).toBeGreaterThanOrEqual(last.replayedCalls);
          last = { resumed: now.resumed ?? 0, replayedCalls: now.replayedCalls ?? 0 };
        }
      }),
    );
  });
});

describe('runLedgerPod', () => {
  it('reads the counts and the process from the pod annotations', () => {
    const annotations = {
      [RUNTIME_ANNOTATION]: JSON.stringify({ started: '2026-11-25T08:00:00.000Z' }),
      [DURABLE_RUNS_ANNOTATION]: encodeDurableReport({
        active: 1,
        resumed: 2,
        diverged: 1,
        replayed: 9,
        store: { state: 'Available', since: '2026-11-25T08:00:01.000Z' },
      }),
    };
    expect(
      runLedgerPod({ metadata: { uid: 'u1', annotations }, status: { phase: 'Running' } }),
    ).toEqual({
      uid: 'u1',
      running: true,
      process: {
        started: '2026-11-25T08:00:00.000Z',
        active: 1,
        counts: { resumed: 2, diverged: 1, replayedCalls: 9 },
      },
    });
  });

  it('reads no process from a malformed report', () => {
    const annotations = { [DURABLE_RUNS_ANNOTATION]: '{"active":-1}' };
    expect(runLedgerPod({ metadata: { uid: 'u1', annotations } })).toEqual({
      uid: 'u1',
      running: false,
    });
  });
});

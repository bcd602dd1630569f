import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { TripLedger } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import { foldTrips, tripTotals, type LedgerPod } from './tripLedger.ts';

const at = (minute: number): string => new Date(Date.UTC(2026, 10, 22, 10, minute)).toISOString();
const pod = (uid: string, started: string, trips: number, lastTrip?: string): LedgerPod => ({
  uid,
  process: { started, trips, ...(lastTrip === undefined ? {} : { lastTrip }) },
});
const silent = (uid: string): LedgerPod => ({ uid });
const total = (ledger: TripLedger): number => tripTotals(ledger).trips;

/** Three pods that each tripped once, as the operator last wrote them. */
const threeTripped = foldTrips(undefined, [
  pod('a', 's1', 1, at(1)),
  pod('b', 's1', 1, at(2)),
  pod('c', 's1', 1, at(3)),
]);

describe('foldTrips', () => {
  it.each<[string, LedgerPod[], number, number]>([
    [
      'keeps the count while the same processes run',
      [pod('a', 's1', 1), pod('b', 's1', 1), pod('c', 's1', 1)],
      3,
      0,
    ],
    [
      'adds what running processes trip next',
      [pod('a', 's1', 2), pod('b', 's1', 1), pod('c', 's1', 1)],
      4,
      0,
    ],
    [
      'keeps every trip when every pod is deleted and replaced',
      [pod('d', 's2', 0), pod('e', 's2', 0), pod('f', 's2', 0)],
      3,
      3,
    ],
    ['keeps every trip when the agent scales from three to one', [pod('a', 's1', 1)], 3, 2],
    [
      'keeps a restarted container’s old trips and counts its new process from zero',
      [pod('a', 's9', 0), pod('b', 's1', 1), pod('c', 's1', 1)],
      3,
      1,
    ],
    [
      'keeps the entry of a pod whose new process has not reported yet',
      [silent('a'), pod('b', 's1', 1), pod('c', 's1', 1)],
      3,
      0,
    ],
    [
      'keeps the high-water mark when a report shrinks (a retired breaker)',
      [pod('a', 's1', 0), pod('b', 's1', 1), pod('c', 's1', 1)],
      3,
      0,
    ],
  ])('%s', (_name, pods, trips, baseline) => {
    const next = foldTrips(threeTripped, pods);
    expect(total(next)).toBe(trips);
    expect(next.baseline.trips).toBe(baseline);
  });

  it('keeps the latest trip time of a pod that is gone', () => {
    const next = foldTrips(threeTripped, []);
    expect(tripTotals(next)).toEqual({ trips: 3, lastTripTime: at(3) });
    expect(next.processes).toEqual([]);
  });

  it('changes nothing when folded again with the same pods: an operator that restarts counts nothing twice', () => {
    const pods = [pod('a', 's1', 4), pod('z', 's1', 2)];
    const once = foldTrips(threeTripped, pods);
    expect(foldTrips(once, pods)).toEqual(once);
    expect(total(once)).toBe(4 + 2 + 1 + 1);
  });

  it('never decreases, and counts each process once, whatever the order of reports and pod losses', () => {
    // A run: each step either reports a count for a process (pod uid × process number) or
    // removes a pod. The true total is the sum over processes of the most each ever reported,
    // as long as each report was folded at least once.
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('report' as const),
        pod: fc.integer({ min: 0, max: 3 }),
        trips: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({ kind: fc.constant('restart' as const), pod: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('delete' as const), pod: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        let generation = 0; // a deleted pod comes back with a new UID
        const pods = new Map<number, { uid: string; process: number; trips: number }>();
        const best = new Map<string, number>(); // per process: the most it reported
        let ledger: TripLedger | undefined;
        let previous = 0;
        for (const s of steps) {
          const current = pods.get(s.pod) ?? {
            uid: `p${String(s.pod)}-${String(generation++)}`,
            process: 0,
            trips: 0,
          };
          if (s.kind === 'delete') pods.delete(s.pod);
          else if (s.kind === 'restart')
            pods.set(s.pod, { ...current, process: current.process + 1, trips: 0 });
          else {
            // A process's count only grows in the runtime.
            const trips = Math.max(current.trips, s.trips);
            pods.set(s.pod, { ...current, trips });
            const key = `${current.uid}/${String(current.process)}`;
            best.set(key, Math.max(best.get(key) ?? 0, trips));
          }
          ledger = foldTrips(
            ledger,
            [...pods.values()].map((p) => pod(p.uid, String(p.process), p.trips)),
          );
          const now = total(ledger);
          expect(now).toBeGreaterThanOrEqual(previous);
          previous = now;
        }
        const truth = [...best.values()].reduce((a, b) => a + b, 0);
        expect(previous).toBe(truth);
      }),
      { seed: 15, numRuns: 300 },
    );
  });
});

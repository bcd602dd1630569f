import { describe, expect, it } from '@jest/globals';
import { liveProcesses } from './ledgerProcesses.ts';

describe('liveProcesses', () => {
  const recorded = [
    { pod: 'gone', started: 't0', n: 1 },
    { pod: 'same', started: 't0', n: 2 },
    { pod: 'restarted', started: 't0', n: 3 },
    { pod: 'quiet', started: 't0', n: 4 },
  ];
  const pods = [
    { uid: 'same', process: { started: 't0' } },
    { uid: 'restarted', process: { started: 't1' } },
    { uid: 'quiet' },
    { uid: 'new', process: { started: 't0' } },
  ];

  it('keeps a running process and a quiet pod, and retires a gone pod and a replaced process once each', () => {
    const retired: number[] = [];
    const live = liveProcesses(recorded, pods, (e) => retired.push(e.n));
    expect([...live.keys()].sort()).toEqual(['quiet', 'same']);
    expect(retired.sort()).toEqual([1, 3]);
  });

  it('retires nothing from an empty ledger', () => {
    const retired: unknown[] = [];
    expect(liveProcesses(undefined, pods, (e) => retired.push(e)).size).toBe(0);
    expect(retired).toEqual([]);
  });
});

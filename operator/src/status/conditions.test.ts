import { describe, expect, it } from '@jest/globals';
import { setCondition, setConditions, type Condition } from './conditions.ts';

const ready = (status: Condition['status'], at: string, generation = 1): Condition => ({
  type: 'Ready',
  status,
  reason: status === 'True' ? 'Available' : 'Progressing',
  message: '',
  lastTransitionTime: at,
  observedGeneration: generation,
});

describe('setCondition', () => {
  it.each([
    {
      name: 'adds a condition that was not there, stamped now',
      before: [] as Condition[],
      status: 'True' as const,
      want: '2026-01-01T00:01:00Z',
    },
    {
      name: 'keeps lastTransitionTime when the status stays the same',
      before: [ready('True', '2026-01-01T00:00:00Z')],
      status: 'True' as const,
      want: '2026-01-01T00:00:00Z',
    },
    {
      name: 'moves lastTransitionTime when the status flips',
      before: [ready('False', '2026-01-01T00:00:00Z')],
      status: 'True' as const,
      want: '2026-01-01T00:01:00Z',
    },
  ])('$name', ({ before, status, want }) => {
    const after = setCondition(
      before,
      { type: 'Ready', status, reason: 'Available', message: 'ok' },
      2,
      '2026-01-01T00:01:00Z',
    );
    expect(after).toHaveLength(1);
    expect(after[0]?.lastTransitionTime).toBe(want);
  });

  it('always records the generation the condition was computed from', () => {
    const after = setCondition(
      [ready('True', 'x', 1)],
      { type: 'Ready', status: 'True', reason: 'A', message: '' },
      7,
      'y',
    );
    expect(after[0]?.observedGeneration).toBe(7);
  });

  it('leaves other conditions and their order alone, and does not mutate its input', () => {
    const before: Condition[] = [
      { ...ready('True', 'x'), type: 'Stalled', status: 'False' },
      ready('True', 'x'),
    ];
    const snapshot = structuredClone(before);
    const after = setConditions(
      before,
      [{ type: 'Ready', status: 'False', reason: 'R', message: 'm' }],
      3,
      'z',
    );
    expect(after.map((c) => c.type)).toEqual(['Stalled', 'Ready']);
    expect(after[0]).toEqual(before[0]);
    expect(before).toEqual(snapshot);
  });
});

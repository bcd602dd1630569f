import { describe, expect, it } from '@jest/globals';
import { canonical, LoopDetector } from './loopDetector.ts';

const limits = { maxRepeats: 3, maxCycleRepeats: 3 };

describe('LoopDetector', () => {
  it('stops the same tool with the same input at maxRepeats, whatever the key order', () => {
    const d = new LoopDetector(limits);
    expect(d.record('search', { q: 'x', page: 1 })).toBeUndefined();
    expect(d.record('search', { page: 1, q: 'x' })).toBeUndefined();
    expect(d.record('search', { q: 'x', page: 1 })).toEqual({ tool: 'search', count: 3 });
  });

  it('lets the same tool run with different inputs', () => {
    const d = new LoopDetector(limits);
    for (let page = 0; page < 10; page++) expect(d.record('search', { page })).toBeUndefined();
  });

  it.each([
    [['a', 'b'], 'a → b'],
    [['a', 'b', 'c'], 'a → b → c'],
    [['a', 'b', 'c', 'd'], 'a → b → c → d'],
  ])('stops the cycle %j repeated maxCycleRepeats times', (cycle, name) => {
    const d = new LoopDetector({ maxRepeats: 100, maxCycleRepeats: 3 });
    const findings = [];
    for (let round = 0; round < 3; round++)
      for (const tool of cycle) findings.push(d.record(tool, { same: true }));
    expect(findings.slice(0, -1).every((f) => f === undefined)).toBe(true);
    expect(findings.at(-1)).toEqual({ tool: name, count: cycle.length * 3 });
  });

  it('does not call a pattern that breaks off a cycle', () => {
    const d = new LoopDetector({ maxRepeats: 100, maxCycleRepeats: 3 });
    const calls = ['a', 'b', 'a', 'b', 'c', 'a', 'b'];
    expect(calls.map((t) => d.record(t, {})).every((f) => f === undefined)).toBe(true);
  });

  it('writes canonical JSON', () => {
    expect(canonical({ b: [1, { d: 2, c: 1 }], a: 'x', z: undefined })).toBe(
      '{"a":"x","b":[1,{"c":1,"d":2}]}',
    );
  });
});

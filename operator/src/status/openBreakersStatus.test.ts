import { describe, expect, it } from '@jest/globals';
import {
  BREAKERS_ANNOTATION,
  type BreakerReportEntry,
} from '../../../contract/src/reporting/breakerReport.ts';
import { openBreakers } from './openBreakersStatus.ts';
import type { PodView } from './views.ts';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const later = (s: number): string => new Date(NOW + s * 1000).toISOString();
const open = (seconds: number): BreakerReportEntry => ({
  state: 'Open',
  since: later(-1),
  trips: 1,
  openUntil: later(seconds),
});
const replica = (report: Record<string, BreakerReportEntry>): PodView => ({
  metadata: { annotations: { [BREAKERS_ANNOTATION]: JSON.stringify(report) } },
});

describe('openBreakers', () => {
  it('keeps, per provider breaker, the latest time a replica holding it open probes again', () => {
    expect(
      openBreakers(
        [
          replica({ 'east/sonnet': open(10), 'west/sonnet': open(5) }),
          replica({ 'east/sonnet': open(30) }),
          replica({ 'east/sonnet': { state: 'HalfOpen', since: later(-1), trips: 1 } }),
        ],
        NOW,
      ),
    ).toEqual([
      { name: 'east/sonnet', until: later(30) },
      { name: 'west/sonnet', until: later(5) },
    ]);
  });

  it('keeps what status recorded while it is still ahead, though the replicas that reported it are gone', () => {
    const recorded = [
      { name: 'east/sonnet', until: later(20) },
      { name: 'west/sonnet', until: later(-1) },
    ];
    expect(openBreakers([replica({ 'east/sonnet': open(10) })], NOW, recorded)).toEqual([
      { name: 'east/sonnet', until: later(20) },
    ]);
    expect(openBreakers([], NOW, recorded)).toEqual([{ name: 'east/sonnet', until: later(20) }]);
  });

  it.each<[string, Record<string, BreakerReportEntry>]>([
    ['a tool breaker (the tool’s business)', { 'tool:search': open(30) }],
    ['an open time already over', { 'east/sonnet': open(0) }],
    [
      'a forced open (it reaches new replicas through the policy)',
      { 'east/sonnet': { state: 'ForcedOpen', since: later(-1), trips: 0 } },
    ],
  ])('leaves out %s', (_name, report) => {
    expect(openBreakers([replica(report)], NOW)).toEqual([]);
  });

  it('keeps at most 64, those open longest, listed by name', () => {
    const report = Object.fromEntries(
      Array.from({ length: 70 }, (_, i) => [`b/m${String(i).padStart(2, '0')}`, open(i + 1)]),
    );
    const kept = openBreakers([replica(report)], NOW);
    expect(kept).toHaveLength(64);
    expect(kept[0]?.name).toBe('b/m06');
    expect(kept.map((k) => k.name)).toEqual(kept.map((k) => k.name).sort());
  });
});

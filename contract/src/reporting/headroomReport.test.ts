import { describe, expect, it } from '@jest/globals';
import {
  agentHeadroom,
  decodeHeadroomReport,
  encodeHeadroomReport,
  type HeadroomReportEntry,
} from './headroomReport.ts';

const NOW = Date.parse('2026-11-22T19:00:00Z');
const entry = (ratio: number, resetIn: number, observedAgo = 0): HeadroomReportEntry => ({
  ratio,
  limitedBy: 'requests',
  resetAt: new Date(NOW + resetIn).toISOString(),
  observedAt: new Date(NOW - observedAgo).toISOString(),
});

describe('the provider-headroom annotation', () => {
  it('round-trips a report, backends in name order', () => {
    const report = { secondary: entry(0.5, 30_000), default: entry(0.1, 10_000) };
    const text = encodeHeadroomReport(report);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['default', 'secondary']);
    expect(decodeHeadroomReport(text)).toEqual(report);
  });

  it.each([
    ['no annotation', undefined],
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a ratio above 1', JSON.stringify({ a: { ...entry(0.5, 1), ratio: 2 } })],
    ['an unknown limit', JSON.stringify({ a: { ...entry(0.5, 1), limitedBy: 'dollars' } })],
    ['a reset that is no time', JSON.stringify({ a: { ...entry(0.5, 1), resetAt: 'soon' } })],
  ])('skips %s rather than trusting it', (_name, value) => {
    expect(decodeHeadroomReport(value)).toEqual({});
  });
});

describe('agentHeadroom', () => {
  it('takes the newest report per backend: every replica draws on the same quota', () => {
    const older = { default: entry(0.05, 30_000, 5_000) };
    const newer = { default: entry(0.6, 30_000, 1_000) };
    expect(agentHeadroom([older, newer], NOW)?.ratio).toBe(0.6);
    expect(agentHeadroom([newer, older], NOW)?.ratio).toBe(0.6);
  });

  it('is the tightest backend, named', () => {
    const headroom = agentHeadroom([{ a: entry(0.6, 30_000), b: entry(0.1, 20_000) }], NOW);
    expect(headroom).toEqual({
      ratio: 0.1,
      backend: 'b',
      limitedBy: 'requests',
      resetAtMs: NOW + 20_000,
    });
  });

  it('counts a report whose reset time has passed as whole again, with no traffic since', () => {
    expect(agentHeadroom([{ a: entry(0.0, -1) }], NOW)).toBeUndefined();
    expect(agentHeadroom([{ a: entry(0.0, -1), b: entry(0.3, 5_000) }], NOW)?.backend).toBe('b');
  });

  it('says nothing when no replica reported', () => {
    expect(agentHeadroom([{}, {}], NOW)).toBeUndefined();
  });
});

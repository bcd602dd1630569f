import { describe, expect, it } from '@jest/globals';
import { decodeDurableReport, encodeDurableReport, type DurableReport } from './durableReport.ts';

const report: DurableReport = {
  active: 2,
  resumed: 1,
  diverged: 0,
  replayed: 7,
  store: {
    state: 'Unavailable',
    reason: 'Unreachable',
    message: 'connect ECONNREFUSED',
    since: '2026-11-25T08:00:00.000Z',
  },
};

describe('the durable-runs pod annotation', () => {
  it('reads back what it wrote', () => {
    expect(decodeDurableReport(encodeDurableReport(report))).toEqual(report);
  });

  it('is emptied when there is nothing to report', () => {
    expect(encodeDurableReport(undefined)).toBe('');
    expect(decodeDurableReport('')).toBeUndefined();
  });

  it('shortens a long message to 200 characters', () => {
    const long = { ...report, store: { ...report.store, message: 'x'.repeat(500) } };
    expect(decodeDurableReport(encodeDurableReport(long))?.store.message).toHaveLength(200);
  });

  it.each([
    ['not JSON', '{'],
    ['a negative count', JSON.stringify({ ...report, resumed: -1 })],
    ['a fractional count', JSON.stringify({ ...report, replayed: 1.5 })],
    ['no store', JSON.stringify({ ...report, store: undefined })],
    ['an unknown state', JSON.stringify({ ...report, store: { state: 'Maybe', since: 'x' } })],
  ])('reads %s as no report rather than a wrong one', (_name, value) => {
    expect(decodeDurableReport(value)).toBeUndefined();
  });

  it('drops an unknown reason but keeps the state', () => {
    const value = JSON.stringify({ ...report, store: { ...report.store, reason: 'Gremlins' } });
    expect(decodeDurableReport(value)?.store).toEqual({
      state: 'Unavailable',
      message: 'connect ECONNREFUSED',
      since: '2026-11-25T08:00:00.000Z',
    });
  });
});

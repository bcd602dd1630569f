import { describe, expect, it } from '@jest/globals';
import { decodeStoreReport, encodeStoreReport, type StoreReport } from './storeReport.ts';

describe('the rate-limit store annotation', () => {
  it('round-trips a report, and an absent store as the empty string', () => {
    const report: StoreReport = {
      state: 'Fallback',
      reason: 'AuthenticationFailed',
      message: 'WRONGPASS invalid username-password pair or user is disabled.',
      since: '2026-11-22T10:00:00.000Z',
    };
    expect(decodeStoreReport(encodeStoreReport(report))).toEqual(report);
    const slow: StoreReport = { state: 'Fallback', reason: 'Slow', since: 't', budgets: 'Store' };
    expect(decodeStoreReport(encodeStoreReport(slow))).toEqual(slow);
    expect(decodeStoreReport('{"state":"Fallback","since":"t","budgets":"Moon"}')).toEqual({
      state: 'Fallback',
      since: 't',
    });
    expect(encodeStoreReport(undefined)).toBe('');
    expect(decodeStoreReport('')).toBeUndefined();
  });

  it('keeps a long message short: it rides on every pod update', () => {
    const encoded = encodeStoreReport({ state: 'Fallback', message: 'x'.repeat(5000), since: 't' });
    expect(encoded.length).toBeLessThan(300);
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['an unknown state', '{"state":"Maybe","since":"t"}'],
    ['no since', '{"state":"Shared"}'],
  ])('reads %s as no report rather than a wrong one', (_name, value) => {
    expect(decodeStoreReport(value)).toBeUndefined();
  });

  it('drops a reason it does not know, keeping the state', () => {
    expect(decodeStoreReport('{"state":"Fallback","reason":"Gremlins","since":"t"}')).toEqual({
      state: 'Fallback',
      since: 't',
    });
  });
});

import { describe, expect, it } from '@jest/globals';
import { readReportObject } from './reportJson.ts';

describe('readReportObject', () => {
  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['not JSON', '{"state":'],
    ['an array', '[{"state":"Shared"}]'],
    ['null', 'null'],
    ['a string', '"Shared"'],
    ['a number', '42'],
  ])('reads %s as no report', (_what, value) => {
    expect(readReportObject(value)).toBeUndefined();
  });

  it('reads an object as it is, for the codec to check field by field', () => {
    expect(readReportObject('{"state":"Shared","since":7}')).toEqual({ state: 'Shared', since: 7 });
  });
});

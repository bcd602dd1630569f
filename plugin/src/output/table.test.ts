import { describe, expect, it } from '@jest/globals';
import { age, millis, percent, renderTable } from './table.ts';

describe('renderTable', () => {
  it('aligns columns three spaces apart under upper-case headers, as kubectl does', () => {
    expect(
      renderTable(
        ['agent', 'ready', 'breaker'],
        [
          ['support', '3/3', 'Open'],
          ['batch-summaries', '1/1', 'Closed'],
        ],
      ),
    ).toBe(
      [
        'AGENT             READY   BREAKER',
        'support           3/3     Open',
        'batch-summaries   1/1     Closed',
        '',
      ].join('\n'),
    );
  });

  it('shows an empty cell as a dash and leaves no trailing spaces', () => {
    expect(
      renderTable(
        ['a', 'b'],
        [
          ['x', undefined],
          [null, ''],
        ],
      ),
    ).toBe('A   B\nx   -\n-   -\n');
  });

  it('prints the header alone for no rows', () => {
    expect(renderTable(['pod', 'ready'], [])).toBe('POD   READY\n');
  });
});

describe('cell formats', () => {
  it.each([
    [0.9731, '97.3%'],
    [1, '100%'],
    [0, '0%'],
    [null, '-'],
  ])('percent(%p) is %s', (ratio, text) => {
    expect(percent(ratio)).toBe(text);
  });

  it.each([
    [0.25, '0.25ms'],
    [12.4, '12ms'],
    [1_234, '1.2s'],
    [125_000, '2m05s'],
    [null, '-'],
  ])('millis(%p) is %s', (ms, text) => {
    expect(millis(ms)).toBe(text);
  });

  it.each([
    [45_000, '45s'],
    [12 * 60_000, '12m'],
    [5 * 3_600_000, '5h'],
    [3 * 86_400_000, '3d'],
  ])('age of %p ms is %s', (ago, text) => {
    expect(age(1_000_000_000 - ago, 1_000_000_000)).toBe(text);
  });
});

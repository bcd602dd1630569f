import { describe, expect, it } from '@jest/globals';
import { waitFor } from './waitFor.ts';

// A zero timeout asks once and gives up at once: nothing here waits on real time.
describe('waitFor', () => {
  it('returns what the probe found', async () => {
    await expect(
      waitFor(() => ({ ready: 2 }), { timeoutMs: 0, description: 'x' }),
    ).resolves.toEqual({
      ready: 2,
    });
  });

  it.each<[string, () => unknown, string]>([
    ['the value the probe last returned', () => false, 'last: returned false'],
    [
      'what the probe last threw',
      () => {
        throw new Error('2 of 3 ready');
      },
      'last: 2 of 3 ready',
    ],
    ['undefined when the probe found nothing', () => undefined, 'last: returned undefined'],
  ])('fails naming what was awaited and %s', async (_name, probe, last) => {
    const failure = waitFor(probe as () => false, { timeoutMs: 0, description: 'three pods' });
    await expect(failure).rejects.toThrow('waiting for three pods');
    await expect(failure).rejects.toThrow(last);
  });
});

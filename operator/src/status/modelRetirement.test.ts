import { describe, expect, it } from '@jest/globals';
import type { AgentModels } from '../../../contract/src/api/modelRetirements.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { evaluateModelRetirement } from './modelRetirement.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** claude-sonnet-4-5's end of life, 2026-11-30, as the table gives it. */
const SONNET_END = Date.parse('2026-11-30T00:00:00Z');
/** The day Breakwater checked the table. */
const CHECKED = Date.parse('2026-11-22T12:00:00Z');

describe('evaluateModelRetirement', () => {
  it.each<{
    name: string;
    models: AgentModels;
    now: number;
    status: string;
    reason: string;
    message: string;
    endOfLife?: string;
    changesAt?: number;
  }>([
    {
      name: 'says NotDeprecated for current models, with no day and nothing to wait for',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-haiku-5-5'] },
      now: CHECKED,
      status: 'False',
      reason: 'NotDeprecated',
      message: '',
    },
    {
      name: 'says Deprecated with the day when the primary model is deprecated',
      models: { name: 'claude-sonnet-4-5', fallbacks: ['claude-haiku-5-5'] },
      now: CHECKED,
      status: 'True',
      reason: 'Deprecated',
      message: 'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
      endOfLife: '2026-11-30',
      changesAt: SONNET_END,
    },
    {
      name: 'says Deprecated when only a fallback is',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-sonnet-4-5'] },
      now: CHECKED,
      status: 'True',
      reason: 'Deprecated',
      message: 'fallback claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
      endOfLife: '2026-11-30',
      changesAt: SONNET_END,
    },
    {
      name: 'says PastEndOfLife from the first moment of the day',
      models: { name: 'claude-sonnet-4-5' },
      now: SONNET_END,
      status: 'True',
      reason: 'PastEndOfLife',
      message: 'model claude-sonnet-4-5 retired on 2026-11-30: the provider refuses calls to it',
      endOfLife: '2026-11-30',
    },
    {
      name: 'says PastEndOfLife when one model is past it, names both, and waits for the other',
      models: { name: 'claude-sonnet-4-5', fallbacks: ['claude-mythos-preview'] },
      now: CHECKED,
      status: 'True',
      reason: 'PastEndOfLife',
      message:
        'fallback claude-mythos-preview retired on 2026-06-30: the provider refuses calls to it; ' +
        'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
      endOfLife: '2026-06-30',
      changesAt: SONNET_END,
    },
  ])('$name', ({ models, now, status, reason, message, endOfLife, changesAt }) => {
    const result = evaluateModelRetirement(models, now);
    expect(result).toEqual({
      condition: { type: 'ModelRetiring', status, reason, message },
      endOfLife,
      changesAtMs: changesAt,
    });
  });

  it('turns from Deprecated to PastEndOfLife as the clock crosses midnight UTC of the day', () => {
    const clock = new ManualClock(SONNET_END - DAY_MS);
    const reason = () =>
      evaluateModelRetirement({ name: 'claude-sonnet-4-5' }, clock.now()).condition.reason;
    expect(reason()).toBe('Deprecated');
    clock.advance(DAY_MS - 1);
    expect(reason()).toBe('Deprecated');
    clock.advance(1);
    expect(reason()).toBe('PastEndOfLife');
  });
});

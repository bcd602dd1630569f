import { describe, expect, it } from '@jest/globals';
import {
  describeRetirement,
  isPastEndOfLife,
  MODEL_END_OF_LIFE,
  retiringModels,
  type AgentModels,
} from './modelRetirements.ts';
import {
  calendarDayOf,
  sdkDeprecations,
  sdkVersion,
  SDK_DEPRECATION_FILES,
} from '../../../test/support/sdkModelLists.ts';

const DAY_MS = 86_400_000;
const SONNET_4_5_END_OF_LIFE = Date.parse('2026-11-30T00:00:00Z');

describe('the model retirement table', () => {
  it.each(SDK_DEPRECATION_FILES)(
    'holds every model the SDK deprecates in %s, with the same end-of-life day',
    (file) => {
      const sdk = sdkDeprecations(file);
      expect(sdk.size).toBeGreaterThan(0);
      const missing = [...sdk].filter(([model, day]) => MODEL_END_OF_LIFE.get(model) !== day);
      expect({ sdk: sdkVersion(), missing }).toEqual({ sdk: sdkVersion(), missing: [] });
    },
  );

  it('holds only days that exist', () => {
    for (const day of MODEL_END_OF_LIFE.values()) {
      expect(new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10)).toBe(day);
    }
  });

  it.each([
    ['November 30th, 2026', '2026-11-30'],
    ['June 1st, 2027', '2027-06-01'],
    ['May 22nd, 2026', '2026-05-22'],
    ['March 3rd, 2026', '2026-03-03'],
  ])("reads the SDK's date %s as %s", (sdkDate, day) => {
    expect(calendarDayOf(sdkDate)).toBe(day);
  });
});

describe('retiringModels', () => {
  it.each<{ name: string; models: AgentModels; retiring: [string, string, string][] }>([
    {
      name: 'finds nothing for current models',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-haiku-5-5'] },
      retiring: [],
    },
    {
      name: 'finds nothing for a model name it has never heard of',
      models: { name: 'my-own-finetune' },
      retiring: [],
    },
    {
      name: 'names a deprecated primary as the model, with its end-of-life day',
      models: { name: 'claude-sonnet-4-5', fallbacks: ['claude-haiku-5-5'] },
      retiring: [['model', 'claude-sonnet-4-5', '2026-11-30']],
    },
    {
      name: 'names a deprecated fallback as a fallback',
      models: { name: 'claude-sonnet-5-5', fallbacks: ['claude-haiku-5-5', 'claude-sonnet-4-5'] },
      retiring: [['fallback', 'claude-sonnet-4-5', '2026-11-30']],
    },
    {
      name: 'knows a dated snapshot by its own name',
      models: { name: 'claude-sonnet-4-5-20250929' },
      retiring: [['model', 'claude-sonnet-4-5-20250929', '2026-11-30']],
    },
    {
      name: 'lists the primary first, then the fallbacks in order',
      models: { name: 'claude-mythos-preview', fallbacks: ['claude-sonnet-4-5'] },
      retiring: [
        ['model', 'claude-mythos-preview', '2026-06-30'],
        ['fallback', 'claude-sonnet-4-5', '2026-11-30'],
      ],
    },
  ])('$name', ({ models, retiring }) => {
    expect(retiringModels(models).map((r) => [r.role, r.model, r.endOfLife])).toEqual(retiring);
  });

  it('puts the end of life at the start of its day, UTC', () => {
    expect(retiringModels({ name: 'claude-sonnet-4-5' })[0]?.endOfLifeMs).toBe(
      SONNET_4_5_END_OF_LIFE,
    );
  });
});

describe('describeRetirement', () => {
  const [sonnet] = retiringModels({ name: 'claude-sonnet-4-5' });
  if (sonnet === undefined) throw new Error('claude-sonnet-4-5 is in the table');

  it.each([
    {
      name: 'says "is deprecated and retires on" eight days before',
      now: SONNET_4_5_END_OF_LIFE - 8 * DAY_MS,
      past: false,
      text: 'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
    },
    {
      name: 'still says "retires on" a millisecond before the day starts',
      now: SONNET_4_5_END_OF_LIFE - 1,
      past: false,
      text: 'model claude-sonnet-4-5 is deprecated and retires on 2026-11-30',
    },
    {
      name: 'says "retired on" from the first millisecond of the day',
      now: SONNET_4_5_END_OF_LIFE,
      past: true,
      text: 'model claude-sonnet-4-5 retired on 2026-11-30: the provider refuses calls to it',
    },
  ])('$name', ({ now, past, text }) => {
    expect(isPastEndOfLife(sonnet, now)).toBe(past);
    expect(describeRetirement(sonnet, now)).toBe(text);
  });
});

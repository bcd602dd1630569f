import { describe, expect, it } from '@jest/globals';
import type { CircuitBreakerPolicy } from '../../../contract/src/api/resources.ts';
import {
  RUNTIME_ANNOTATION,
  type AppliedOverride,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { setCondition } from './conditions.ts';
import { evaluateOverride, overrideEvent, type OverrideUser } from './overrideStatus.ts';
import type { PodView } from './views.ts';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const UNTIL = '2026-11-22T10:10:00Z';

type SpecOverride = NonNullable<CircuitBreakerPolicy['spec']['override']>;

const policy = (override?: SpecOverride): CircuitBreakerPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'CircuitBreakerPolicy',
  metadata: { name: 'shared', namespace: 'ns', generation: 7 },
  spec: override === undefined ? {} : { override },
});

const forced: SpecOverride = { state: 'ForcedOpen', reason: 'INC-42', until: UNTIL };
/** What a replica that applied `forced` reports (the runtime writes milliseconds). */
const applied: AppliedOverride = {
  state: 'ForcedOpen',
  reason: 'INC-42',
  until: '2026-11-22T10:10:00.000Z',
  generation: 7,
};

const replica = (override?: AppliedOverride, phase = 'Running'): PodView => ({
  metadata: {
    annotations: {
      [RUNTIME_ANNOTATION]: JSON.stringify({ started: '2026-11-22T09:00:00.000Z', override }),
    },
  },
  status: { phase },
});
const starting = (): PodView => ({ metadata: {}, status: { phase: 'Running' } });
const agent = (name: string, pods: PodView[]): OverrideUser => ({ name, pods });

describe('evaluateOverride', () => {
  it.each<[string, SpecOverride | undefined, OverrideUser[], string, string, string | undefined]>([
    [
      'is Applied when every replica of every agent reports the override',
      forced,
      [agent('support', [replica(applied), replica(applied)]), agent('triage', [replica(applied)])],
      'True',
      'Applied',
      '3/3',
    ],
    [
      'is Pending while a replica still runs without it',
      forced,
      [agent('support', [replica(applied), replica(), replica(applied)])],
      'False',
      'Pending',
      '2/3',
    ],
    [
      'is Pending while a replica has not reported at all',
      forced,
      [agent('support', [replica(applied), starting()])],
      'False',
      'Pending',
      '1/2',
    ],
    [
      'does not count a replica that applies another override (an older reason)',
      forced,
      [agent('support', [replica({ ...applied, reason: 'INC-41' }), replica(applied)])],
      'False',
      'Pending',
      '1/2',
    ],
    [
      'does not count pods that are not running',
      forced,
      [agent('support', [replica(applied), replica(undefined, 'Pending')])],
      'True',
      'Applied',
      '1/1',
    ],
    [
      'says NoOverride when there is none and no replica applies one',
      undefined,
      [agent('support', [replica(), replica()])],
      'True',
      'NoOverride',
      undefined,
    ],
    [
      'is Pending after a reset while a replica still applies the old override',
      { state: 'Auto' },
      [agent('support', [replica(applied), replica()])],
      'False',
      'Pending',
      undefined,
    ],
  ])('%s', (_name, spec, users, status, reason, count) => {
    const result = evaluateOverride(policy(spec), users, NOW);
    expect(result.condition).toMatchObject({ type: 'OverrideApplied', status, reason });
    expect(result.override?.applied).toBe(count);
  });

  it('describes the override, each agent and the generation it counted against', () => {
    const result = evaluateOverride(
      policy(forced),
      [agent('triage', [replica()]), agent('support', [replica(applied)])],
      NOW,
    );
    expect(result.override).toEqual({
      state: 'ForcedOpen',
      reason: 'INC-42',
      until: UNTIL,
      observedGeneration: 7,
      applied: '1/2',
      summary: 'ForcedOpen 1/2',
      agents: [
        { name: 'support', applied: 1, replicas: 1 },
        { name: 'triage', applied: 0, replicas: 1 },
      ],
    });
    expect(result.condition.message).toBe('1/2 replicas apply ForcedOpen');
    expect(result.changesAtMs).toBe(Date.parse(UNTIL));
  });

  it('is Expired once until has passed, and asks for no further reconcile', () => {
    const result = evaluateOverride(
      policy(forced),
      [agent('support', [replica()])],
      Date.parse(UNTIL),
    );
    expect(result.condition).toMatchObject({ status: 'False', reason: 'Expired' });
    expect(result.override?.summary).toBe('ForcedOpen expired');
    expect(result.changesAtMs).toBeUndefined();
  });
});

describe('overrideEvent', () => {
  const statusAt = (spec: SpecOverride | undefined, users: OverrideUser[], nowMs = NOW) => {
    const { override, condition } = evaluateOverride(policy(spec), users, nowMs);
    return {
      ...(override === undefined ? {} : { override }),
      conditions: setCondition(undefined, condition, 7, new Date(nowMs).toISOString()),
    };
  };
  const pending = statusAt(forced, [agent('support', [replica(applied), replica()])]);
  const done = statusAt(forced, [agent('support', [replica(applied), replica(applied)])]);
  const expired = statusAt(forced, [agent('support', [replica(), replica()])], Date.parse(UNTIL));

  it('records OverrideApplied when the last replica applies it', () => {
    expect(overrideEvent(pending, done)).toEqual({
      reason: 'OverrideApplied',
      message: 'ForcedOpen applied by 2/2 replicas: INC-42',
    });
  });

  it('records nothing when the stored status already said so (an operator that restarted)', () => {
    expect(overrideEvent(done, done)).toBeUndefined();
  });

  it('records OverrideExpired once, when until passes', () => {
    expect(overrideEvent(done, expired)?.reason).toBe('OverrideExpired');
    expect(overrideEvent(expired, expired)).toBeUndefined();
  });

  it('records nothing while replicas are still picking it up, or without an override', () => {
    expect(overrideEvent(undefined, pending)).toBeUndefined();
    expect(
      overrideEvent(done, statusAt(undefined, [agent('support', [replica()])])),
    ).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, AutoscalingSpec } from '../../../contract/src/api/resources.ts';
import {
  encodeHeadroomReport,
  HEADROOM_ANNOTATION,
} from '../../../contract/src/reporting/headroomReport.ts';
import { evaluateScaleOutHold } from './scaleOutHold.ts';
import type { PodView } from './views.ts';
import { statusAgent } from './statusFixtures.ts';

const NOW = Date.parse('2026-11-22T19:00:00Z');

const agent = (autoscaling?: AutoscalingSpec): AgentDeployment =>
  statusAgent(autoscaling === undefined ? { replicas: 2 } : { autoscaling });

/** As the API server defaults it. */
const autoscaling = (over: Partial<AutoscalingSpec> = {}): AutoscalingSpec => ({
  minReplicas: 2,
  maxReplicas: 10,
  targetCPUUtilizationPercentage: 70,
  providerQuota: { holdScaleOut: true, minHeadroomPercent: 20 },
  ...over,
});

const pod = (ratio: number | undefined, phase = 'Running'): PodView => ({
  metadata: {
    annotations:
      ratio === undefined
        ? {}
        : {
            [HEADROOM_ANNOTATION]: encodeHeadroomReport({
              default: {
                ratio,
                limitedBy: 'requests',
                resetAt: new Date(NOW + 30_000).toISOString(),
                observedAt: new Date(NOW - 1_000).toISOString(),
              },
            }),
          },
  },
  status: { phase },
});

describe('evaluateScaleOutHold', () => {
  it('holds the HPA at the current replica count while headroom is below the threshold', () => {
    const hold = evaluateScaleOutHold({
      agent: agent(autoscaling()),
      pods: [pod(0.1), pod(undefined)],
      currentReplicas: 4,
      nowMs: NOW,
    });
    expect(hold.maxReplicasCap).toBe(4);
    expect(hold.recheckAtMs).toBe(NOW + 30_000);
    expect(hold.condition).toMatchObject({
      type: 'ScaleOutHeld',
      status: 'True',
      reason: 'ProviderQuotaLow',
    });
    expect(hold.condition.message).toContain('provider headroom 10% (backend default, requests)');
    expect(hold.condition.message).toContain('maxReplicas held at 4 (spec 10)');
  });

  it.each([
    ['below minReplicas', 0, 2],
    ['above maxReplicas', 40, 10],
  ])('never caps %s', (_name, current, cap) => {
    const hold = evaluateScaleOutHold({
      agent: agent(autoscaling()),
      pods: [pod(0)],
      currentReplicas: current,
      nowMs: NOW,
    });
    expect(hold.maxReplicasCap).toBe(cap);
  });

  it.each([
    ['headroom at the threshold', autoscaling(), [pod(0.2)], 'HeadroomAvailable'],
    ['no headroom reported', autoscaling(), [pod(undefined)], 'NoHeadroomReported'],
    ['a pod that is not running', autoscaling(), [pod(0.05, 'Pending')], 'NoHeadroomReported'],
    [
      'the hold switched off',
      autoscaling({ providerQuota: { holdScaleOut: false, minHeadroomPercent: 20 } }),
      [pod(0.05)],
      'HoldDisabled',
    ],
    ['no autoscaling', undefined, [pod(0.05)], 'NotAutoscaled'],
  ])('does not hold with %s', (_name, spec, pods, reason) => {
    const hold = evaluateScaleOutHold({ agent: agent(spec), pods, currentReplicas: 3, nowMs: NOW });
    expect(hold.maxReplicasCap).toBeUndefined();
    expect(hold.condition).toMatchObject({ type: 'ScaleOutHeld', status: 'False', reason });
  });

  it('releases once the provider reset time has passed, with no traffic since', () => {
    const hold = evaluateScaleOutHold({
      agent: agent(autoscaling()),
      pods: [pod(0.0)],
      currentReplicas: 3,
      nowMs: NOW + 30_000,
    });
    expect(hold.maxReplicasCap).toBeUndefined();
    expect(hold.condition.reason).toBe('NoHeadroomReported');
  });
});

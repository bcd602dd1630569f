import type { HorizontalPodAutoscalerSpec, MetricSpec } from './kubeShapes.ts';
import type { AgentDeployment, AutoscalingSpec } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';

export interface HorizontalPodAutoscaler extends ChildObject<
  'autoscaling/v2',
  'HorizontalPodAutoscaler'
> {
  spec: HorizontalPodAutoscalerSpec;
}

/** An HPA needs at least one metric; CPU at 80% is what `kubectl autoscale` picks too. */
export const DEFAULT_TARGET_CPU_PERCENT = 80;

/**
 * Scales the agent's Deployment; the Deployment then carries no replica count of its own.
 * `maxReplicasCap` holds scale-out while the provider's quota is short (never above the spec).
 */
export function buildHorizontalPodAutoscaler(
  agent: Readonly<AgentDeployment>,
  autoscaling: Readonly<AutoscalingSpec>,
  maxReplicasCap: number | undefined,
): HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMetadata(agent),
    spec: {
      scaleTargetRef: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: agentIdentity(agent).name,
      },
      minReplicas: autoscaling.minReplicas ?? 1,
      maxReplicas: Math.min(autoscaling.maxReplicas, maxReplicasCap ?? autoscaling.maxReplicas),
      metrics: utilisationMetrics(autoscaling),
    },
  };
}

function utilisationMetrics(autoscaling: Readonly<AutoscalingSpec>): MetricSpec[] {
  const cpu = autoscaling.targetCPUUtilizationPercentage;
  const memory = autoscaling.targetMemoryUtilizationPercentage;
  const targets: [string, number][] = [];
  if (cpu !== undefined || memory === undefined)
    targets.push(['cpu', cpu ?? DEFAULT_TARGET_CPU_PERCENT]);
  if (memory !== undefined) targets.push(['memory', memory]);
  return targets.map(([name, averageUtilization]) => ({
    type: 'Resource',
    resource: { name, target: { type: 'Utilization', averageUtilization } },
  }));
}

/**
 * Quota-aware scaling: while the provider's quota is short, more replicas only multiply 429s,
 * so the operator holds scale-out — it caps the HorizontalPodAutoscaler's maxReplicas at the
 * replicas there are now — and says why in condition ScaleOutHeld. Pure: the reconciler
 * passes the pods' headroom reports, the replica count and the time.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  HEADROOM_ANNOTATION,
  agentHeadroom,
  decodeHeadroomReport,
} from '../../../contract/src/reporting/headroomReport.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';

export const SCALE_OUT_HELD = 'ScaleOutHeld';

export interface ScaleOutHold {
  readonly condition: ConditionUpdate;
  /** The HPA's maxReplicas while held; undefined when not held. */
  readonly maxReplicasCap?: number;
  /** When the provider said the short quota is whole again (epoch ms): re-check then. */
  readonly recheckAtMs?: number;
}

export interface ScaleOutHoldInputs {
  readonly agent: Readonly<AgentDeployment>;
  /** The agent's pods that are not terminating. */
  readonly pods: readonly PodView[];
  /** Replicas the Deployment has now. */
  readonly currentReplicas: number;
  readonly nowMs: number;
}

export function evaluateScaleOutHold(inputs: ScaleOutHoldInputs): ScaleOutHold {
  const autoscaling = inputs.agent.spec.autoscaling;
  if (autoscaling === undefined)
    return { condition: notHeld('NotAutoscaled', 'spec.replicas fixes the replica count') };
  const quota = autoscaling.providerQuota;
  // The API server fills both from the schema's defaults; without them there is no threshold.
  const threshold = quota?.minHeadroomPercent;
  if (quota?.holdScaleOut === false || threshold === undefined)
    return {
      condition: notHeld('HoldDisabled', 'spec.autoscaling.providerQuota.holdScaleOut is false'),
    };
  const headroom = agentHeadroom(
    inputs.pods
      .filter((p) => p.status?.phase === 'Running')
      .map((p) => decodeHeadroomReport(p.metadata?.annotations?.[HEADROOM_ANNOTATION])),
    inputs.nowMs,
  );
  if (headroom === undefined)
    return {
      condition: notHeld(
        'NoHeadroomReported',
        'no replica has a provider rate limit in force to report',
      ),
    };
  const percent = Math.round(headroom.ratio * 100);
  if (percent >= threshold)
    return {
      condition: notHeld(
        'HeadroomAvailable',
        `provider headroom ${String(percent)}% (backend ${headroom.backend}, ${headroom.limitedBy}) is at least providerQuota.minHeadroomPercent ${String(threshold)}%`,
      ),
    };
  const minReplicas = autoscaling.minReplicas ?? 1;
  const cap = Math.min(autoscaling.maxReplicas, Math.max(minReplicas, inputs.currentReplicas));
  return {
    condition: {
      type: SCALE_OUT_HELD,
      status: 'True',
      reason: 'ProviderQuotaLow',
      message:
        `provider headroom ${String(percent)}% (backend ${headroom.backend}, ${headroom.limitedBy}) is below ` +
        `providerQuota.minHeadroomPercent ${String(threshold)}% until ${new Date(headroom.resetAtMs).toISOString()}: ` +
        `HorizontalPodAutoscaler maxReplicas held at ${String(cap)} (spec ${String(autoscaling.maxReplicas)}); ` +
        'more replicas would only multiply 429s',
    },
    maxReplicasCap: cap,
    recheckAtMs: headroom.resetAtMs,
  };
}

function notHeld(reason: string, message: string): ConditionUpdate {
  return { type: SCALE_OUT_HELD, status: 'False', reason, message };
}

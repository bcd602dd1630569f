/** What the builders need from the operator's own configuration. */
export interface BuilderOptions {
  /** Runtime image for agents that set no `spec.image` (the operator's `--runtime-image`). */
  readonly runtimeImage: string;
  /** Whether the cluster serves `monitoring.coreos.com/v1` ServiceMonitors. */
  readonly serviceMonitorAvailable: boolean;
  /**
   * The HorizontalPodAutoscaler's maxReplicas while scale-out is held for this agent
   * (status/scaleOutHold.ts); unset, spec.autoscaling.maxReplicas.
   */
  readonly maxReplicasCap?: number | undefined;
}

/** The runtime released with this operator: the `--runtime-image` default. */
export const DEFAULT_RUNTIME_IMAGE = 'ghcr.io/breakwater-dev/breakwater:0.1.0';

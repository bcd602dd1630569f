/**
 * What every reconciler receives: the API boundary, the caches, the clock and the
 * options. Passed in, never global, so tests and benchmarks build their own.
 */
import type { Logger } from 'pino';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../runtime/src/api/resources.ts';
import type { Informer } from '../../../runtime/src/kube/informer.ts';
import type { KubeClient } from '../../../runtime/src/kube/kubeClient.ts';
import type { Clock } from '../../../runtime/src/time/clock.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import type { OperatorMetrics } from './operatorMetrics.ts';

export const FIELD_MANAGER = 'breakwater-operator';

export interface OperatorCaches {
  readonly agents: Informer<AgentDeployment>;
  readonly breakerPolicies: Informer<CircuitBreakerPolicy>;
  readonly rateLimitPolicies: Informer<RateLimitPolicy>;
  readonly pods: Informer<PodView>;
  readonly deployments: Informer<DeploymentView>;
}

export interface OperatorOptions {
  readonly runtimeImage: string;
  /** Watch only this namespace; all when undefined. */
  readonly namespace: string | undefined;
}

export interface OperatorContext {
  readonly client: KubeClient;
  readonly caches: OperatorCaches;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly options: OperatorOptions;
  /** Whether monitoring.coreos.com ServiceMonitors can be created in this cluster right now. */
  readonly serviceMonitorAvailable: () => boolean;
  /**
   * Hash of the children last applied per agent. Applying is skipped while it matches;
   * an edit or deletion of an owned object clears the entry so the next reconcile puts it back.
   */
  readonly appliedChildren: Map<string, string>;
}

/**
 * What every reconciler receives: the API boundary, the caches, the clock and the
 * options. Passed in, never global, so tests and benchmarks build their own.
 */
import type { Logger } from 'pino';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../contract/src/api/resources.ts';
import type { Informer } from '../../../platform/src/kube/informer.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import type { OwnedView } from './cacheViews.ts';
import type { OperatorMetrics } from './operatorMetrics.ts';

export const FIELD_MANAGER = 'breakwater-operator';

export interface OperatorCaches {
  readonly agents: Informer<AgentDeployment>;
  readonly breakerPolicies: Informer<CircuitBreakerPolicy>;
  readonly rateLimitPolicies: Informer<RateLimitPolicy>;
  readonly pods: Informer<PodView>;
  readonly deployments: Informer<DeploymentView>;
  /** Owned kinds watched for drift, by `childKindKey`; ServiceMonitors are not among them. */
  readonly owned: ReadonlyMap<string, Informer<OwnedView>>;
}

/** `apiVersion/kind`: how an owned kind is looked up in `OperatorCaches.owned`. */
export function childKindKey(kind: { readonly apiVersion: string; readonly kind: string }): string {
  return `${kind.apiVersion}/${kind.kind}`;
}

/** `childKindKey` of an object as read or built (an absent apiVersion or kind reads as empty). */
export function objectKindKey(obj: KubeObject): string {
  return childKindKey({ apiVersion: obj.apiVersion ?? '', kind: obj.kind ?? '' });
}

/** What the operator last applied for an agent (childApply.ts). */
export interface AppliedChildren {
  /** Of the children as built, all of them, and the deletions: nothing is done while it matches. */
  readonly hash: string;
  /** Each child's hash as built when last applied, by `childKindKey`: unchanged ones are skipped. */
  readonly children: ReadonlyMap<string, string>;
  /**
   * What each child's last apply returned, as the watch will show it (`echoOf`): an update
   * that matches is the operator's own write, not an edit.
   */
  readonly echoes: Map<string, string>;
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
   * What was last applied per agent. Applying is skipped while the hash matches; an edit or
   * deletion of an owned object forgets that child so the next reconcile puts it back.
   */
  readonly appliedChildren: Map<string, AppliedChildren>;
}

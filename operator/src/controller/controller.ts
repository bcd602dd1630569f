/**
 * Wires watches to work queues. Each event is mapped to the keys it affects:
 *   AgentDeployment            → itself, and the policies it references (before and after)
 *   Circuit/RateLimitPolicy    → itself, and every agent that references it
 *   Pod (breakwater.dev/agent) → its agent and that agent's policies (live state, shares)
 *   owned children             → their owner; an edit or deletion forces a re-apply
 *   ServiceMonitor CRD         → every agent (start or stop managing ServiceMonitors)
 */
import type { Logger } from 'pino';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../runtime/src/api/resources.ts';
import { Informer, type InformerHandlers } from '../../../runtime/src/kube/informer.ts';
import type { KubeClient } from '../../../runtime/src/kube/kubeClient.ts';
import { objectKey, type KubeObject } from '../../../runtime/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../../runtime/src/kube/resourceKinds.ts';
import { systemClock, type Clock } from '../../../runtime/src/time/clock.ts';
import { AGENT_LABEL } from '../builders/index.ts';
import { WorkQueue, type Outcome } from '../machinery/workQueue.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import { reconcileAgent } from './agentReconciler.ts';
import type { OperatorContext, OperatorOptions } from './operatorContext.ts';
import { OperatorMetrics } from './operatorMetrics.ts';
import {
  agentsUsing,
  reconcileBreakerPolicy,
  reconcileRateLimitPolicy,
} from './policyReconcilers.ts';

const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=breakwater';
const SERVICE_MONITOR_CRD = 'servicemonitors.monitoring.coreos.com';

/** Owned kinds watched only to notice drift. */
const DRIFT_KINDS: readonly ResourceKind[] = [
  Kinds.ConfigMap,
  Kinds.Service,
  Kinds.ServiceAccount,
  Kinds.Role,
  Kinds.RoleBinding,
  Kinds.HorizontalPodAutoscaler,
  Kinds.PodDisruptionBudget,
  Kinds.NetworkPolicy,
];

export interface ControllerDeps {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly options: OperatorOptions;
  readonly metrics?: OperatorMetrics;
  readonly clock?: Clock;
  /** Keys reconciled at once per kind. @default 4 */
  readonly concurrency?: number;
}

export class Controller {
  readonly ctx: OperatorContext;
  readonly #informers: Informer<KubeObject>[] = [];
  readonly #queues: Record<'agents' | 'breakerPolicies' | 'rateLimitPolicies', WorkQueue>;
  #serviceMonitorCrd = false;
  #depthTimer: NodeJS.Timeout | undefined;

  constructor(deps: ControllerDeps) {
    const clock = deps.clock ?? systemClock;
    const metrics = deps.metrics ?? new OperatorMetrics();
    const informer = <T extends KubeObject>(
      kind: ResourceKind,
      labelSelector?: string,
      fieldSelector?: string,
    ) => {
      const inf = new Informer<T>({
        client: deps.client,
        kind,
        namespace: kind.namespaced ? deps.options.namespace : undefined,
        labelSelector,
        fieldSelector,
        clock,
        onRestart: (reason, error) => {
          metrics.watchRestarts.inc({ kind: kind.kind, reason });
          if (reason !== 'ended')
            deps.log.warn({ kind: kind.kind, reason, err: error }, 'watch restarted');
        },
        onHandlerError: (error) => {
          deps.log.error({ kind: kind.kind, err: error }, 'event handler failed');
        },
      });
      this.#informers.push(inf);
      return inf;
    };
    const caches = {
      agents: informer<AgentDeployment>(Kinds.AgentDeployment),
      breakerPolicies: informer<CircuitBreakerPolicy>(Kinds.CircuitBreakerPolicy),
      rateLimitPolicies: informer<RateLimitPolicy>(Kinds.RateLimitPolicy),
      pods: informer<PodView>(Kinds.Pod, AGENT_LABEL),
      deployments: informer<DeploymentView>(Kinds.Deployment, MANAGED_SELECTOR),
    };
    this.ctx = {
      client: deps.client,
      caches,
      clock,
      log: deps.log,
      metrics,
      options: deps.options,
      serviceMonitorAvailable: () => this.#serviceMonitorCrd,
      appliedChildren: new Map(),
    };
    const queue = (
      kind: string,
      reconcile: (key: string, ctx: OperatorContext) => Promise<Outcome>,
    ) => {
      const q = new WorkQueue(
        async (key) => {
          const end = metrics.reconcileDuration.startTimer({ kind });
          try {
            const outcome = await reconcile(key, this.ctx);
            metrics.reconciles.inc({ kind, result: 'success' });
            return outcome;
          } catch (err) {
            metrics.reconciles.inc({ kind, result: 'error' });
            throw err;
          } finally {
            end();
          }
        },
        { concurrency: deps.concurrency ?? 4, clock },
      );
      q.onError = (key, err, failures) => {
        deps.log.warn({ kind, key, failures, err }, 'reconcile failed; retrying with backoff');
      };
      return q;
    };
    this.#queues = {
      agents: queue('AgentDeployment', reconcileAgent),
      breakerPolicies: queue('CircuitBreakerPolicy', reconcileBreakerPolicy),
      rateLimitPolicies: queue('RateLimitPolicy', reconcileRateLimitPolicy),
    };
    this.#wire();
    for (const kind of DRIFT_KINDS) {
      informer(kind, MANAGED_SELECTOR).on(this.#ownerHandlers(false));
    }
    informer(Kinds.CustomResourceDefinition, undefined, `metadata.name=${SERVICE_MONITOR_CRD}`).on({
      added: () => {
        this.#setServiceMonitorCrd(true);
      },
      deleted: () => {
        this.#setServiceMonitorCrd(false);
      },
    });
  }

  /** Starts every watch; resolves when all caches hold their first list. */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.start()));
    // A full pass once the caches are complete; events keep it current afterwards.
    for (const agent of this.ctx.caches.agents.list()) this.#queues.agents.add(objectKey(agent));
    for (const p of this.ctx.caches.breakerPolicies.list())
      this.#queues.breakerPolicies.add(objectKey(p));
    for (const p of this.ctx.caches.rateLimitPolicies.list())
      this.#queues.rateLimitPolicies.add(objectKey(p));
    this.#depthTimer = setInterval(() => {
      for (const [kind, q] of Object.entries(this.#queues)) {
        this.ctx.metrics.queueDepth.set({ kind }, q.stats.depth);
      }
    }, 1000);
    this.#depthTimer.unref();
  }

  /** Stops taking work, lets running reconciles finish, and closes the watches. */
  async stop(): Promise<void> {
    clearInterval(this.#depthTimer);
    await Promise.all(Object.values(this.#queues).map((q) => q.shutDown()));
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  /** Resolves when no reconcile is queued or running (for tests and benchmarks). */
  async idle(): Promise<void> {
    await Promise.all(Object.values(this.#queues).map((q) => q.idle()));
  }

  #wire(): void {
    const { caches } = this.ctx;
    const q = this.#queues;
    const agentChanged = (agent: AgentDeployment, previous?: AgentDeployment): void => {
      q.agents.add(objectKey(agent));
      // Policy status depends on which agents reference the policy (spec) and on their pods
      // (watched on their own), never on agent status: the echo of our own status write must
      // not recompute every policy over all its agents, which at 1000 agents was most of the work.
      if (previous !== undefined && agent.metadata.generation === previous.metadata.generation)
        return;
      for (const a of previous === undefined ? [agent] : [agent, previous])
        this.#enqueuePoliciesOf(a);
    };
    caches.agents.on({
      added: (a) => {
        agentChanged(a);
      },
      updated: agentChanged,
      deleted: (a) => {
        agentChanged(a);
      },
    });

    const policyChanged =
      (queue: WorkQueue, ref: 'circuitBreakerPolicyRef' | 'rateLimitPolicyRef') =>
      (policy: KubeObject): void => {
        queue.add(objectKey(policy));
        const ns = policy.metadata?.namespace ?? 'default';
        for (const agent of agentsUsing(this.ctx, ns, policy.metadata?.name ?? '', ref))
          q.agents.add(objectKey(agent));
      };
    const onBreakerPolicy = policyChanged(q.breakerPolicies, 'circuitBreakerPolicyRef');
    caches.breakerPolicies.on({
      added: onBreakerPolicy,
      updated: onBreakerPolicy,
      deleted: onBreakerPolicy,
    });
    const onRatePolicy = policyChanged(q.rateLimitPolicies, 'rateLimitPolicyRef');
    caches.rateLimitPolicies.on({
      added: onRatePolicy,
      updated: onRatePolicy,
      deleted: onRatePolicy,
    });

    const podChanged = (pod: PodView): void => {
      const agentName = pod.metadata?.labels?.[AGENT_LABEL];
      if (agentName === undefined) return;
      const key = `${pod.metadata?.namespace ?? 'default'}/${agentName}`;
      q.agents.add(key);
      const agent = caches.agents.get(key);
      if (agent !== undefined) this.#enqueuePoliciesOf(agent);
    };
    caches.pods.on({ added: podChanged, updated: podChanged, deleted: podChanged });
    caches.deployments.on(this.#ownerHandlers(true));
  }

  /**
   * Handlers for owned objects: a deletion or an edit of what the operator applies is drift,
   * which forgets what was applied and queues the owner to put it back. `statusMatters`
   * (Deployments): the agent's status is computed from this kind's status, so every change
   * queues the owner, but only a spec change (generation) is drift, as the Deployment
   * controller annotates and updates status all the time.
   */
  #ownerHandlers(statusMatters: boolean): InformerHandlers<KubeObject> {
    const changed = (obj: KubeObject, previous?: KubeObject): void => {
      const owner = obj.metadata?.ownerReferences?.find(
        (r) => r.kind === 'AgentDeployment' && r.controller === true,
      );
      if (owner === undefined) return;
      const key = `${obj.metadata?.namespace ?? 'default'}/${owner.name}`;
      const drift =
        previous === undefined ||
        (statusMatters
          ? obj.metadata?.generation !== previous.metadata?.generation
          : isEdited(obj, previous));
      if (drift) this.ctx.appliedChildren.delete(key);
      if (drift || statusMatters) this.#queues.agents.add(key);
    };
    return {
      updated: (obj, previous) => {
        changed(obj, previous);
      },
      deleted: (obj) => {
        changed(obj);
      },
    };
  }

  #enqueuePoliciesOf(agent: AgentDeployment): void {
    const ns = agent.metadata.namespace ?? 'default';
    const cbp = agent.spec.circuitBreakerPolicyRef?.name;
    const rlp = agent.spec.rateLimitPolicyRef?.name;
    if (cbp !== undefined) this.#queues.breakerPolicies.add(`${ns}/${cbp}`);
    if (rlp !== undefined) this.#queues.rateLimitPolicies.add(`${ns}/${rlp}`);
  }

  #setServiceMonitorCrd(present: boolean): void {
    if (this.#serviceMonitorCrd === present) return;
    this.#serviceMonitorCrd = present;
    this.ctx.log.info({ present }, 'ServiceMonitor CRD availability changed');
    for (const agent of this.ctx.caches.agents.list()) {
      const key = objectKey(agent);
      this.ctx.appliedChildren.delete(key);
      this.#queues.agents.add(key);
    }
  }
}

/**
 * Whether an update touched what the operator applies: anything but status and the
 * bookkeeping the API server changes on every write. An HPA's or a PDB's status update (every
 * controller sync) is not drift; an edit of spec, data, rules or metadata is.
 */
function isEdited(obj: KubeObject, previous: KubeObject): boolean {
  return appliedPart(obj) !== appliedPart(previous);
}

function appliedPart(obj: KubeObject): string {
  return JSON.stringify(obj, function (this: unknown, key: string, value: unknown) {
    if (this === obj && key === 'status') return undefined;
    return key === 'resourceVersion' || key === 'managedFields' ? undefined : value;
  });
}

/**
 * Wires watches to work queues. Each event is mapped to the keys it affects:
 *   AgentDeployment            → itself, and the policies it references (before and after)
 *   Circuit/RateLimitPolicy    → itself, and every agent that references it
 *   Pod (breakwater.dev/agent) → its agent and that agent's policies (live state, shares)
 *   owned children             → their owner; an edit or deletion forces a re-apply
 *   ServiceMonitor CRD         → every agent (start or stop managing ServiceMonitors)
 *   ConfigMap (data)           → the agents whose systemPromptFrom names it (agents' index)
 *
 * Only changes a reconcile would act on queue anything: the echo of the operator's own status
 * write (a new resourceVersion, the same generation) queues nothing. With a thousand agents
 * sharing two policies, each policy status write used to queue all thousand agents again.
 */
import type { Logger } from 'pino';
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../contract/src/api/resources.ts';
import type { Informer, InformerHandlers } from '../../../platform/src/kube/informer.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { objectKey, type KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../../platform/src/kube/resourceKinds.ts';
import { systemClock, type Clock } from '../../../platform/src/time/clock.ts';
import { AGENT_LABEL } from '../builders/index.ts';
import {
  configMapContentView,
  deploymentView,
  ownedView,
  podView,
  viewChanged,
  withoutManagedFields,
  type ConfigMapContentView,
  type OwnedView,
} from './cacheViews.ts';
import type { Outcome, WorkQueue } from '../machinery/workQueue.ts';
import { InformerSet, type Selection } from './informerSet.ts';
import { reconcileQueue } from './reconcileQueue.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import { agentOfPod, promptConfigMapOf, reconcileAgent } from './agentReconciler.ts';
import {
  childKindKey,
  objectKindKey,
  type OperatorContext,
  type OperatorOptions,
} from './operatorContext.ts';
import { OperatorMetrics } from './operatorMetrics.ts';
import { echoOf, forgetChild, isOwnEcho } from './childApply.ts';
import {
  agentsResolving,
  reconcileBreakerPolicy,
  reconcileRateLimitPolicy,
} from './policyReconcilers.ts';
import { teammates } from './teamReplicas.ts';

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
  /**
   * Keys reconciled at once per kind. Reconciles mostly wait on the API server: on two cores,
   * 1000 new agents had children and status after 24 s at 4 and 15 s at 8 (one run each).
   * With an agent's applies in two concurrent waves, 16 was no faster than 8 (27.9 and 31.4 s
   * against 27.8 and 34.2 s): the API server used a whole core and the machine none idle.
   * @default 8
   */
  readonly concurrency?: number;
}

export class Controller {
  readonly ctx: OperatorContext;
  readonly #informers: InformerSet;
  readonly #queues: Record<'agents' | 'breakerPolicies' | 'rateLimitPolicies', WorkQueue>;
  #serviceMonitorCrd = false;
  #depthTimer: NodeJS.Timeout | undefined;

  constructor(deps: ControllerDeps) {
    const clock = deps.clock ?? systemClock;
    const metrics = deps.metrics ?? new OperatorMetrics();
    this.#informers = new InformerSet(
      deps.client,
      deps.options.namespace,
      clock,
      metrics,
      deps.log,
    );
    const informer = <T extends KubeObject>(kind: ResourceKind, selection: Selection<T> = {}) =>
      this.#informers.add<T>(kind, selection);
    const owned = new Map<string, Informer<OwnedView>>();
    for (const kind of DRIFT_KINDS) {
      owned.set(
        childKindKey(kind),
        informer<OwnedView>(kind, {
          labelSelector: MANAGED_SELECTOR,
          transform: ownedView,
        }),
      );
    }
    const caches = {
      agents: informer<AgentDeployment>(Kinds.AgentDeployment, {
        transform: withoutManagedFields,
        indexBy: promptConfigMapOf,
      }),
      breakerPolicies: informer<CircuitBreakerPolicy>(Kinds.CircuitBreakerPolicy, {
        transform: withoutManagedFields,
      }),
      rateLimitPolicies: informer<RateLimitPolicy>(Kinds.RateLimitPolicy, {
        transform: withoutManagedFields,
      }),
      pods: informer<PodView>(Kinds.Pod, {
        labelSelector: AGENT_LABEL,
        transform: podView,
        indexBy: agentOfPod,
      }),
      deployments: informer<DeploymentView>(Kinds.Deployment, {
        labelSelector: MANAGED_SELECTOR,
        transform: deploymentView,
      }),
      owned,
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
    ) =>
      reconcileQueue({
        kind,
        reconcile: (key) => reconcile(key, this.ctx),
        metrics,
        log: deps.log,
        clock,
        concurrency: deps.concurrency ?? 8,
      });
    this.#queues = {
      agents: queue('AgentDeployment', reconcileAgent),
      breakerPolicies: queue('CircuitBreakerPolicy', reconcileBreakerPolicy),
      rateLimitPolicies: queue('RateLimitPolicy', reconcileRateLimitPolicy),
    };
    this.#wire();
    for (const inf of owned.values()) inf.on(this.#ownedHandlers());
    informer<ConfigMapContentView>(Kinds.ConfigMap, { transform: configMapContentView }).on(
      this.#promptSourceHandlers(),
    );
    informer(Kinds.CustomResourceDefinition, {
      fieldSelector: `metadata.name=${SERVICE_MONITOR_CRD}`,
      transform: withoutManagedFields,
    }).on({
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
    await this.#informers.start();
    // A full pass once the caches are complete; events keep it current afterwards.
    for (const agent of this.ctx.caches.agents.list()) this.#queues.agents.add(objectKey(agent));
    for (const p of this.ctx.caches.breakerPolicies.list())
      this.#queues.breakerPolicies.add(objectKey(p));
    for (const p of this.ctx.caches.rateLimitPolicies.list())
      this.#queues.rateLimitPolicies.add(objectKey(p));
    for (const q of Object.values(this.#queues)) q.resume();
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
    await this.#informers.stop();
  }

  /** Resolves when no reconcile is queued or running (for tests and benchmarks). */
  async idle(): Promise<void> {
    await Promise.all(Object.values(this.#queues).map((q) => q.idle()));
  }

  #wire(): void {
    const { caches } = this.ctx;
    const q = this.#queues;
    const agentChanged = (agent: AgentDeployment, previous?: AgentDeployment): void => {
      // A reconcile reads the agent's spec (generation), its identity and whether it is being
      // deleted. Status is the operator's alone to write, so a status-only update is the echo of
      // its own write; a foreign edit of status is put right by the periodic resync.
      if (previous !== undefined && !specOrLifecycleChanged(agent, previous)) return;
      q.agents.add(objectKey(agent));
      // Policy status depends on which agents reference the policy (spec) and on their pods
      // (watched on their own), never on agent status. An agent added, gone or moved to another
      // policy re-divides its team budgets (teamReplicas.ts) among the others.
      for (const a of previous === undefined ? [agent] : [agent, previous]) {
        this.#enqueuePoliciesOf(a);
        for (const k of teammates(this.ctx, a)) q.agents.add(k);
      }
    };
    caches.agents.on(onEveryChange(agentChanged));

    const policyChanged =
      (queue: WorkQueue, ref: 'circuitBreakerPolicyRef' | 'rateLimitPolicyRef') =>
      (policy: KubeObject, previous?: KubeObject): void => {
        // The echo of the policy's own status write changes nothing the agents or the
        // policy's status are computed from.
        if (previous !== undefined && !specOrLifecycleChanged(policy, previous)) return;
        queue.add(objectKey(policy));
        const ns = policy.metadata?.namespace ?? 'default';
        // A policy appearing, changing or going alters the document of every agent that
        // resolves it, its MCP servers' tool breakers included.
        for (const agent of agentsResolving(this.ctx, ns, policy.metadata?.name ?? '', ref))
          q.agents.add(objectKey(agent));
      };
    caches.breakerPolicies.on(
      onEveryChange(policyChanged(q.breakerPolicies, 'circuitBreakerPolicyRef')),
    );
    caches.rateLimitPolicies.on(
      onEveryChange(policyChanged(q.rateLimitPolicies, 'rateLimitPolicyRef')),
    );

    const podChanged = (pod: PodView): void => {
      const agentName = pod.metadata?.labels?.[AGENT_LABEL];
      if (agentName === undefined) return;
      const key = `${pod.metadata?.namespace ?? 'default'}/${agentName}`;
      q.agents.add(key);
      const agent = caches.agents.get(key);
      if (agent === undefined) return;
      this.#enqueuePoliciesOf(agent);
      // A replica ready or gone changes every teammate's share of a team budget.
      for (const k of teammates(this.ctx, agent)) q.agents.add(k);
    };
    caches.pods.on({
      added: podChanged,
      updated: (pod, previous) => {
        if (viewChanged(pod, previous)) podChanged(pod);
      },
      deleted: podChanged,
    });
    caches.deployments.on(this.#deploymentHandlers());
  }

  /**
   * The agent's status is computed from its Deployment's status, so a change of what the cache
   * keeps of it queues the owner; only a spec change (generation) is drift, as the Deployment
   * controller annotates and updates status all the time, and not the generation the
   * operator's own apply made.
   */
  #deploymentHandlers(): InformerHandlers<DeploymentView> {
    return {
      updated: (obj, previous) => {
        const key = ownerKey(obj);
        if (key === undefined || !viewChanged(obj, previous)) return;
        const kindKey = childKindKey(Kinds.Deployment);
        if (
          obj.metadata?.generation !== previous.metadata?.generation &&
          !isOwnEcho(this.ctx, key, kindKey, echoOf(obj))
        )
          forgetChild(this.ctx, key, kindKey);
        this.#queues.agents.add(key);
      },
      deleted: (obj) => {
        this.#drift(obj);
      },
    };
  }

  /**
   * Owned objects watched for drift. An edit of what the operator applies (not status, not the
   * echo of its own apply), or the deletion of a child it applied, forgets that child and
   * queues the owner to put it back. An object of a kind the owner's last reconcile did not
   * apply, appearing, is drift too: that reconcile may have skipped deleting it because the
   * cache had not seen it yet.
   */
  #ownedHandlers(): InformerHandlers<OwnedView> {
    const applied = (obj: OwnedView, key: string): boolean | undefined =>
      this.ctx.appliedChildren.get(key)?.children.has(objectKindKey(obj));
    return {
      added: (obj) => {
        const key = ownerKey(obj);
        if (key !== undefined && applied(obj, key) === false) this.#drift(obj);
      },
      updated: (obj, previous) => {
        const key = ownerKey(obj);
        if (obj.applied === previous.applied || key === undefined) return;
        if (!isOwnEcho(this.ctx, key, objectKindKey(obj), obj.applied)) this.#drift(obj);
      },
      deleted: (obj) => {
        const key = ownerKey(obj);
        if (key !== undefined && applied(obj, key) !== false) this.#drift(obj);
      },
    };
  }

  /**
   * ConfigMaps agents read their system prompt from: a change of data (or the map appearing
   * or going) queues the agents that name it, found through the agents' index, so an edit
   * reaches their policy and every replica within seconds rather than at the resync. A
   * ConfigMap no agent names costs a lookup.
   */
  #promptSourceHandlers(): InformerHandlers<ConfigMapContentView> {
    const queueReaders = (configMap: KubeObject): void => {
      for (const agent of this.ctx.caches.agents.byIndex(objectKey(configMap)))
        this.#queues.agents.add(objectKey(agent));
    };
    return {
      added: queueReaders,
      updated: (obj, previous) => {
        if (obj.content !== previous.content) queueReaders(obj);
      },
      deleted: queueReaders,
    };
  }

  #drift(obj: KubeObject): void {
    const key = ownerKey(obj);
    if (key === undefined) return;
    forgetChild(this.ctx, key, objectKindKey(obj));
    this.#queues.agents.add(key);
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

/** Handlers that call `changed` for an object added, updated (with what it was) or deleted. */
function onEveryChange<T>(changed: (obj: T, previous?: T) => void): InformerHandlers<T> {
  return {
    added: (obj) => {
      changed(obj);
    },
    updated: changed,
    deleted: (obj) => {
      changed(obj);
    },
  };
}

/** `namespace/name` of the AgentDeployment that controls `obj`, if one does. */
function ownerKey(obj: KubeObject): string | undefined {
  const owner = obj.metadata?.ownerReferences?.find(
    (r) => r.kind === 'AgentDeployment' && r.controller === true,
  );
  return owner === undefined ? undefined : `${obj.metadata?.namespace ?? 'default'}/${owner.name}`;
}

/** Whether an update changed the spec (generation) or started the object's deletion. */
function specOrLifecycleChanged(obj: KubeObject, previous: KubeObject): boolean {
  return (
    obj.metadata?.generation !== previous.metadata?.generation ||
    obj.metadata?.deletionTimestamp !== previous.metadata?.deletionTimestamp
  );
}

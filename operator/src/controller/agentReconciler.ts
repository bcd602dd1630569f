/**
 * AgentDeployment: gather (`gatherAgentInputs` over the caches, one ConfigMap read for
 * systemPromptFrom, whose edits the controller watches) → decide (pure
 * resolution and builders) → apply (server-side apply, one field manager, skipped when the
 * children are unchanged) → status (written once, only when it changed).
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../contract/src/api/resources.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { policyHash } from '../../../contract/src/policy/policyDocument.ts';
import { resolvePolicy } from '../../../contract/src/policy/policyResolution.ts';
import { checkPolicyDocument } from '../../../contract/src/policy/policyValidation.ts';
import { inManifestTerms } from '../../../contract/src/policy/specPaths.ts';
import {
  gatherAgentInputs,
  type ObjectLookup,
  type ReferencedKind,
  type ReferencedObjects,
} from '../../../contract/src/policy/policyGather.ts';
import { buildChildren, selectorString, AGENT_LABEL } from '../builders/index.ts';
import { computeAgentStatus, forbiddenMessage, STORE_SECRET_READ } from '../status/agentStatus.ts';
import { evaluateModelRetirement } from '../status/modelRetirement.ts';
import { nextPeriodEndMs } from '../spend/spendStatus.ts';
import { findCondition, type ConditionUpdate } from '../status/conditions.ts';
import { evaluateScaleOutHold, SCALE_OUT_HELD } from '../status/scaleOutHold.ts';
import { recordEvent } from './objectEvents.ts';
import type { PodView } from '../status/views.ts';
import type { Outcome } from '../machinery/workQueue.ts';
import type { OperatorContext } from './operatorContext.ts';
import { applyChildren } from './childApply.ts';
import { teamBudgetRows, teamReadyReplicas } from './teamReplicas.ts';
import { STALE_STATUS_RETRY, writeStatusIfChanged } from './statusWrite.ts';

/** Periodic re-check even when nothing changes, as a safety net under the watches. */
export const RESYNC_MS = 5 * 60_000;

interface ConfigMapData extends KubeObject {
  data?: Record<string, string>;
}

/** The index key of the agent a pod runs for (`namespace/name`), from its agent label. */
export function agentOfPod(pod: PodView): string | undefined {
  const agent = pod.metadata?.labels?.[AGENT_LABEL];
  return agent === undefined ? undefined : `${pod.metadata?.namespace ?? ''}/${agent}`;
}

/**
 * The index key of the ConfigMap an agent reads its system prompt from (`namespace/name`), so
 * that an edit of it finds the agents to reconcile without a scan.
 */
export function promptConfigMapOf(agent: AgentDeployment): string | undefined {
  const ref = agent.spec.systemPromptFrom?.configMapKeyRef;
  return ref === undefined ? undefined : `${agent.metadata.namespace ?? 'default'}/${ref.name}`;
}

/** An agent's pods that are not being deleted, from the pod cache's index by agent. */
export function podsOfAgent(ctx: OperatorContext, namespace: string, name: string): PodView[] {
  return presentPodsOfAgent(ctx, namespace, name).filter(
    (p) => p.metadata?.deletionTimestamp === undefined,
  );
}

/** Every pod the cache holds for an agent, terminating ones included (the trip ledger's view). */
export function presentPodsOfAgent(
  ctx: OperatorContext,
  namespace: string,
  name: string,
): readonly PodView[] {
  return ctx.caches.pods.byIndex(`${namespace}/${name}`);
}

/** What the operator reads an agent's references from: its policy caches and the API. */
export interface ReferenceReaders {
  readonly caches: {
    readonly breakerPolicies: { get(key: string): CircuitBreakerPolicy | undefined };
    readonly rateLimitPolicies: { get(key: string): RateLimitPolicy | undefined };
  };
  readonly client: Pick<KubeClient, 'get'>;
}

/**
 * The objects an agent refers to, as the operator sees them: policies from the informer
 * caches, the system prompt's ConfigMap by one read (the controller watches its edits through
 * the agents' index, not a cache). Secrets are never read: the kubelet mounts them into pods.
 */
export function clusterLookup(ctx: ReferenceReaders, namespace: string): ObjectLookup {
  return <K extends ReferencedKind>(kind: K, name: string) => {
    const key = `${namespace}/${name}`;
    switch (kind) {
      case 'CircuitBreakerPolicy':
        return ctx.caches.breakerPolicies.get(key) as ReferencedObjects[K] | undefined;
      case 'RateLimitPolicy':
        return ctx.caches.rateLimitPolicies.get(key) as ReferencedObjects[K] | undefined;
      case 'ConfigMap':
        return ctx.client.get<ConfigMapData>(Kinds.ConfigMap, namespace, name) as Promise<
          ReferencedObjects[K] | undefined
        >;
      default:
        return undefined;
    }
  };
}

export async function reconcileAgent(key: string, ctx: OperatorContext): Promise<Outcome> {
  const agent = ctx.caches.agents.get(key);
  // Gone or going: owner references let the garbage collector remove the children.
  if (agent === undefined || agent.metadata.deletionTimestamp !== undefined) {
    ctx.appliedChildren.delete(key);
    return {};
  }
  const namespace = agent.metadata.namespace ?? 'default';
  const name = agent.metadata.name ?? '';

  // Gather: what the agent refers to, through the one gather step every policy source shares.
  const gathered = await gatherAgentInputs(agent, clusterLookup(ctx, namespace));
  const missing = [...gathered.missing];
  const presentPods = presentPodsOfAgent(ctx, namespace, name);
  const pods = presentPods.filter((p) => p.metadata?.deletionTimestamp === undefined);
  const readyReplicas = pods.filter((p) =>
    p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;

  // Decide. A team budget's share counts every agent's ready replicas on the policy.
  const teamReady = teamReadyReplicas(ctx, namespace, gathered.inputs.rateLimitPolicy);
  const doc = resolvePolicy({ ...gathered.inputs, readyReplicas, teamReadyReplicas: teamReady });
  const hash = policyHash(doc);
  // What every replica will say of it: a value admission cannot judge (a time zone the zone
  // database does not know) is refused there, and the status says so instead of Propagating.
  const checked = checkPolicyDocument(doc);
  const nowMs = ctx.clock.now();
  const deployment = ctx.caches.deployments.get(`${namespace}/${name}`);
  const scaleOutHold = evaluateScaleOutHold({
    agent,
    pods,
    currentReplicas: deployment?.status?.replicas ?? deployment?.spec?.replicas ?? 0,
    nowMs,
  });
  const monitoringWanted = agent.spec.monitoring?.serviceMonitor?.enabled === true;
  const serviceMonitorAvailable = ctx.serviceMonitorAvailable();
  const children = buildChildren(agent, doc, {
    runtimeImage: ctx.options.runtimeImage,
    serviceMonitorAvailable,
    maxReplicasCap: scaleOutHold.maxReplicasCap,
  });

  // Apply, unless the pods would hand the agent container a Secret only the runtime may read:
  // then nothing is applied and the running pods stay as they were (the status says why).
  const forbidden = gathered.forbidden;
  if (forbidden.length === 0) await applyChildren(ctx, key, namespace, children);

  // Status.
  const modelRetirement = evaluateModelRetirement(agent.spec.model, nowMs);
  const status = computeAgentStatus({
    agent,
    deployment,
    pods,
    presentPods,
    policyHash: hash,
    missing,
    monitoring: !monitoringWanted
      ? 'NotRequested'
      : serviceMonitorAvailable
        ? 'Configured'
        : 'CRDMissing',
    modelRetirement,
    scaleOutHold: scaleOutHold.condition,
    selector: selectorString(name),
    spend: doc.rateLimit.spend,
    teamRows: teamBudgetRows(ctx, namespace, gathered.inputs.rateLimitPolicy, nowMs),
    invalidPolicy: checked.ok ? undefined : inManifestTerms(checked.error),
    forbidden,
    breakerMode: doc.circuitBreaker.mode,
    now: new Date(nowMs).toISOString(),
  });
  // The trip ledger is folded from the stored one: a write from a stale copy is refused.
  if ((await writeStatusIfChanged(ctx, agent, status, { precondition: true })) === 'stale')
    return STALE_STATUS_RETRY;
  await recordScaleOutHoldChange(ctx, agent, scaleOutHold.condition);
  await recordForbiddenChange(ctx, agent, forbidden);
  return {
    requeueAfterMs: nextReconcileMs(
      [modelRetirement.changesAtMs, scaleOutHold.recheckAtMs, nextPeriodEndMs(status.spend)],
      nowMs,
    ),
  };
}

/**
 * The resync, or sooner when something turns by the clock alone: a model reaching its end of
 * life (ModelRetiring), a short provider quota the provider said is whole again (ScaleOutHeld),
 * a budget's period ending (its spend starts from zero).
 */
function nextReconcileMs(changesAtMs: readonly (number | undefined)[], nowMs: number): number {
  let next = RESYNC_MS;
  for (const at of changesAtMs) if (at !== undefined) next = Math.min(next, at - nowMs);
  return Math.max(0, next);
}

/** An Event when scale-out is held or released (the status write before it succeeded). */
async function recordScaleOutHoldChange(
  ctx: OperatorContext,
  agent: AgentDeployment,
  condition: ConditionUpdate,
): Promise<void> {
  const before = findCondition(agent.status?.conditions, SCALE_OUT_HELD)?.status ?? 'False';
  if (before === condition.status) return;
  if (condition.status === 'True')
    await recordEvent(ctx, agent, {
      type: 'Warning',
      reason: 'ScaleOutHeld',
      message: condition.message,
    });
  else if (before === 'True')
    await recordEvent(ctx, agent, {
      type: 'Normal',
      reason: 'ScaleOutReleased',
      message: `HorizontalPodAutoscaler maxReplicas back to spec.autoscaling.maxReplicas: ${condition.message}`,
    });
}

/** A Warning Event when the agent is first held back for reading a store's password. */
async function recordForbiddenChange(
  ctx: OperatorContext,
  agent: AgentDeployment,
  forbidden: readonly string[],
): Promise<void> {
  if (forbidden.length === 0) return;
  const before = findCondition(agent.status?.conditions, 'PoliciesResolved');
  const message = forbiddenMessage(forbidden);
  if (before?.reason === STORE_SECRET_READ && before.message === message) return;
  await recordEvent(ctx, agent, { type: 'Warning', reason: STORE_SECRET_READ, message });
}

/**
 * What the operator writes for one agent of the bench's 1,000 (replicas 0, both policies
 * shared, no pods, its Deployment not yet seen), rendered by the operator's own pure functions
 * in the order its reconcile (operator/src/controller/agentReconciler.ts) calls them: the six
 * children it applies and the status it writes on its first reconcile. The bare floor
 * (bareFloor.ts) sends these with a plain client while no operator runs, so both runs put the
 * same bytes through the API server. bareRender.unit.test.ts holds the two to each other.
 */
import type {
  AgentDeployment,
  AgentDeploymentStatus,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../contract/src/api/resources.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { policyHash } from '../../contract/src/policy/policyDocument.ts';
import { resolvePolicy } from '../../contract/src/policy/policyResolution.ts';
import { checkPolicyDocument } from '../../contract/src/policy/policyValidation.ts';
import { inManifestTerms } from '../../contract/src/policy/specPaths.ts';
import {
  gatherAgentInputs,
  type ReferencedKind,
  type ReferencedObjects,
} from '../../contract/src/policy/policyGather.ts';
import { buildChildren, selectorString } from '../../operator/src/builders/index.ts';
import { computeAgentStatus } from '../../operator/src/status/agentStatus.ts';
import { evaluateModelRetirement } from '../../operator/src/status/modelRetirement.ts';
import { evaluateScaleOutHold } from '../../operator/src/status/scaleOutHold.ts';
import { hasTeamBudget } from '../../operator/src/controller/teamReplicas.ts';

export interface RenderInputs {
  /** As the API server returned it from its create (uid, generation, resourceVersion). */
  readonly agent: AgentDeployment;
  readonly breakerPolicy: CircuitBreakerPolicy | undefined;
  readonly rateLimitPolicy: RateLimitPolicy | undefined;
  readonly runtimeImage: string;
  readonly serviceMonitorAvailable: boolean;
  readonly nowMs: number;
}

export interface RenderedAgent {
  /** The children, in the operator's order (its two waves: pod prerequisites, then the rest). */
  readonly children: KubeObject[];
  /** What the operator's status write sends to the status subresource (server-side apply). */
  readonly status: KubeObject & { status: AgentDeploymentStatus };
}

export async function renderAgent(inputs: RenderInputs): Promise<RenderedAgent> {
  const { agent, nowMs } = inputs;
  if (agent.spec.replicas !== 0 || agent.spec.autoscaling !== undefined)
    throw new Error('the bare render covers agents with replicas 0 only (no pods to read)');
  if (agent.spec.systemPromptFrom !== undefined)
    throw new Error('the bare render reads no ConfigMap: no systemPromptFrom');
  if (hasTeamBudget(inputs.rateLimitPolicy))
    throw new Error('the bare render has no team budget share to count');
  const namespace = agent.metadata.namespace ?? 'default';
  const name = agent.metadata.name ?? '';
  const lookup = <K extends ReferencedKind>(
    kind: K,
    ref: string,
  ): ReferencedObjects[K] | undefined => {
    const found =
      kind === 'CircuitBreakerPolicy'
        ? inputs.breakerPolicy
        : kind === 'RateLimitPolicy'
          ? inputs.rateLimitPolicy
          : undefined;
    return found?.metadata.name === ref ? (found as ReferencedObjects[K]) : undefined;
  };
  const gathered = await gatherAgentInputs(agent, lookup);
  const doc = resolvePolicy({ ...gathered.inputs, readyReplicas: 0, teamReadyReplicas: undefined });
  const checked = checkPolicyDocument(doc);
  const scaleOutHold = evaluateScaleOutHold({ agent, pods: [], currentReplicas: 0, nowMs });
  const monitoringWanted = agent.spec.monitoring?.serviceMonitor?.enabled === true;
  const children = buildChildren(agent, doc, {
    runtimeImage: inputs.runtimeImage,
    serviceMonitorAvailable: inputs.serviceMonitorAvailable,
    maxReplicasCap: scaleOutHold.maxReplicasCap,
  });
  const status = computeAgentStatus({
    agent,
    deployment: undefined,
    pods: [],
    presentPods: [],
    policyHash: policyHash(doc),
    missing: [...gathered.missing],
    monitoring: !monitoringWanted
      ? 'NotRequested'
      : inputs.serviceMonitorAvailable
        ? 'Configured'
        : 'CRDMissing',
    modelRetirement: evaluateModelRetirement(agent.spec.model, nowMs),
    scaleOutHold: scaleOutHold.condition,
    selector: selectorString(name),
    spend: doc.rateLimit.spend,
    teamRows: [],
    invalidPolicy: checked.ok ? undefined : inManifestTerms(checked.error),
    forbidden: gathered.forbidden,
    breakerMode: doc.circuitBreaker.mode,
    now: new Date(nowMs).toISOString(),
  });
  return {
    children: children.apply,
    status: {
      apiVersion: agent.apiVersion,
      kind: agent.kind,
      metadata: { name, namespace, resourceVersion: agent.metadata.resourceVersion },
      status,
    },
  };
}

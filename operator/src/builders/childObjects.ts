/**
 * What an AgentDeployment becomes. Every builder in this folder is a pure function of its
 * `Readonly` inputs (the agent, the resolved policy document, the operator's options): no
 * I/O, no clock, no mutation, and output that shares no objects with the input. The
 * reconciler applies `apply` with server-side apply and deletes what `delete` names.
 *
 *   ConfigMap <agent>-policy      always: the resolved policy.json and its hash
 *   ServiceAccount                always: breakwater-runtime-<agent>, the pods' identity
 *   Role, RoleBinding <agent>     always: the runtime reads its own ConfigMap and patches
 *                                   pods, nothing more (no Secret: the kubelet mounts them)
 *   Deployment, Service <agent>   always; no replicas in the Deployment under autoscaling
 *   HorizontalPodAutoscaler       when spec.autoscaling is set
 *   PodDisruptionBudget           when more than one replica is wanted (replicas or minReplicas)
 *   NetworkPolicy                 when spec.access.networkPolicy.enabled
 *   ServiceMonitor                when the CRD exists and spec.monitoring.serviceMonitor.enabled
 *
 * Policy edits change only the ConfigMap: running replicas pick them up through its watch,
 * and no pod restarts, unless the edit changes the grace period the operator works out for
 * the pods (`shutdownTiming.ts`).
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { agentIdentity } from './agentIdentity.ts';
import type { BuilderOptions } from './builderOptions.ts';
import { buildDeployment } from './deployment.ts';
import { buildHorizontalPodAutoscaler } from './horizontalPodAutoscaler.ts';
import { buildNetworkPolicy } from './networkPolicy.ts';
import { buildPodDisruptionBudget } from './podDisruptionBudget.ts';
import { buildPolicyConfigMap } from './policyConfigMap.ts';
import { buildRole, buildRoleBinding } from './rbac.ts';
import { buildService } from './service.ts';
import { buildServiceAccount } from './serviceAccount.ts';
import { buildServiceMonitor } from './serviceMonitor.ts';

/** A child to delete, in the agent's namespace. */
export interface ChildReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

export interface ChildObjects {
  /** In dependency order: the ConfigMap and RBAC exist before pods that need them. */
  readonly apply: KubeObject[];
  /** Optional children the spec no longer asks for; absent ones are not an error. */
  readonly delete: ChildReference[];
}

interface OptionalChild {
  readonly apiVersion: string;
  readonly kind: string;
  /** The object when wanted, undefined when it must go. */
  readonly build: () => KubeObject | undefined;
}

export function buildChildren(
  agent: Readonly<AgentDeployment>,
  doc: Readonly<PolicyDocument>,
  options: Readonly<BuilderOptions>,
): ChildObjects {
  const { name } = agentIdentity(agent);
  const { autoscaling, access, monitoring } = agent.spec;
  const networkPolicy = access?.networkPolicy;
  const serviceMonitor = monitoring?.serviceMonitor;

  const optional: OptionalChild[] = [
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      build: () =>
        autoscaling === undefined
          ? undefined
          : buildHorizontalPodAutoscaler(agent, autoscaling, options.maxReplicasCap),
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      build: () => (wantedReplicas(agent) > 1 ? buildPodDisruptionBudget(agent) : undefined),
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      build: () =>
        networkPolicy?.enabled === true ? buildNetworkPolicy(agent, networkPolicy) : undefined,
    },
  ];
  // Without the CRD there is no ServiceMonitor to build or to delete.
  if (options.serviceMonitorAvailable) {
    optional.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      build: () =>
        serviceMonitor?.enabled === true ? buildServiceMonitor(agent, serviceMonitor) : undefined,
    });
  }

  const apply: KubeObject[] = [
    buildPolicyConfigMap(agent, doc),
    buildServiceAccount(agent),
    buildRole(agent),
    buildRoleBinding(agent),
    buildDeployment(agent, doc, options),
    buildService(agent),
  ];
  const toDelete: ChildReference[] = [];
  for (const child of optional) {
    const object = child.build();
    if (object === undefined)
      toDelete.push({ apiVersion: child.apiVersion, kind: child.kind, name });
    else apply.push(object);
  }
  return { apply, delete: toDelete };
}

/** The fewest replicas the agent is meant to run: what decides whether a PDB helps. */
function wantedReplicas(agent: Readonly<AgentDeployment>): number {
  const { autoscaling, replicas } = agent.spec;
  return autoscaling === undefined ? (replicas ?? 1) : (autoscaling.minReplicas ?? 1);
}

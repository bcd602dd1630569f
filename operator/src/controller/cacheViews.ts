/**
 * What the operator's caches keep of each object. With a thousand agents the caches hold
 * thousands of objects, and most of each — `managedFields`, a Pod's spec, a child's whole body
 * — is never read: each kind keeps what reconciles and event filters need, and an owned
 * object watched for drift keeps only a digest of what the operator applies to it.
 */
import { createHash } from 'node:crypto';
import type { KubeObject, ObjectMeta } from '../../../platform/src/kube/kubeObject.ts';
import type { DeploymentView, PodView } from '../status/views.ts';
import { AGENT_CONTAINER } from '../builders/agentContainer.ts';

/** An owned object watched for drift: its identity and a digest of everything but status. */
export interface OwnedView extends KubeObject {
  readonly applied: string;
}

/** The whole object but `metadata.managedFields` (agents and policies: spec and status are read). */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata === undefined || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata as ObjectMeta & {
    managedFields?: unknown;
  };
  return { ...obj, metadata };
}

function identity(meta: ObjectMeta | undefined): ObjectMeta {
  const m = meta ?? {};
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    generation: m.generation,
    deletionTimestamp: m.deletionTimestamp,
    ownerReferences: m.ownerReferences,
  };
}

/** Digest of what the operator applies: everything but status and the server's bookkeeping. */
export function appliedDigest(obj: KubeObject): string {
  const json = JSON.stringify(obj, function (this: unknown, key: string, value: unknown) {
    if (this === obj && key === 'status') return undefined;
    return key === 'resourceVersion' || key === 'managedFields' ? undefined : value;
  });
  return createHash('sha256').update(json).digest('base64');
}

export function ownedView(obj: KubeObject): OwnedView {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: identity(obj.metadata),
    applied: appliedDigest(obj),
  };
}

export function deploymentView(obj: DeploymentView): DeploymentView {
  const { spec, status } = obj;
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: identity(obj.metadata),
    spec: { replicas: spec?.replicas },
    status:
      status === undefined
        ? undefined
        : {
            observedGeneration: status.observedGeneration,
            replicas: status.replicas,
            readyReplicas: status.readyReplicas,
            updatedReplicas: status.updatedReplicas,
            // Only a stalled rollout is read of the conditions: the Deployment controller
            // rewrites the others (NewReplicaSetCreated, then NewReplicaSetAvailable, ...) as a
            // rollout moves on, and each rewrite would queue the owner for nothing.
            conditions: status.conditions
              ?.filter((c) => c.type === 'Progressing' && c.status === 'False')
              .map(({ type, status: s, reason }) => ({ type, status: s, reason })),
          },
  };
}

export function podView(obj: PodView): PodView {
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      deletionTimestamp: m.deletionTimestamp,
      labels: m.labels,
      annotations: m.annotations,
    },
    status:
      obj.status === undefined
        ? undefined
        : {
            phase: obj.status.phase,
            conditions: obj.status.conditions?.map(({ type, status }) => ({ type, status })),
            ...agentContainerStatuses(obj.status.containerStatuses),
          },
  };
}

/** The agent container's image and digest, for status.agent; the runtime's are not read. */
function agentContainerStatuses(
  statuses: NonNullable<PodView['status']>['containerStatuses'],
): Pick<NonNullable<PodView['status']>, 'containerStatuses'> {
  const agent = statuses?.filter((s) => s.name === AGENT_CONTAINER);
  if (agent === undefined || agent.length === 0) return {};
  return {
    containerStatuses: agent.map(({ name, image, imageID }) => ({ name, image, imageID })),
  };
}

/**
 * Whether what a reconcile reads of a view changed: anything but `resourceVersion`, which
 * changes on every write, including writes to fields the view leaves out.
 */
export function viewChanged(obj: KubeObject, previous: KubeObject): boolean {
  const strip = (o: KubeObject): string =>
    JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return strip(obj) !== strip(previous);
}

/** A ConfigMap an agent may read its system prompt from: its identity and a digest of its data. */
export interface ConfigMapContentView extends KubeObject {
  readonly content: string;
}

/**
 * Keeps no ConfigMap's data: the reconcile reads the prompt itself, and the cache holds every
 * ConfigMap in the watched namespaces. A label or annotation edit leaves `content` unchanged.
 */
export function configMapContentView(
  obj: KubeObject & { data?: unknown; binaryData?: unknown },
): ConfigMapContentView {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: identity(obj.metadata),
    content: createHash('sha256')
      .update(JSON.stringify([obj.data ?? null, obj.binaryData ?? null]))
      .digest('base64'),
  };
}

import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type {
  KubeObject,
  ObjectMeta,
  OwnerReference,
} from '../../../platform/src/kube/kubeObject.ts';
import { agentIdentity } from './agentIdentity.ts';
import { commonLabels, type Labels } from './labels.ts';
import { agentOwnerReference } from './ownerReference.ts';

export interface ChildMetadata extends ObjectMeta {
  name: string;
  namespace: string;
  labels: Labels;
  ownerReferences: OwnerReference[];
}

/** A child object as it is sent with server-side apply: apiVersion, kind and metadata set. */
export interface ChildObject<ApiVersion extends string, Kind extends string> extends KubeObject {
  apiVersion: ApiVersion;
  kind: Kind;
  metadata: ChildMetadata;
}

export interface ChildMetadataOptions {
  /** @default the agent's name */
  readonly name?: string;
  /** Labels in addition to the common ones, which win on a clash. */
  readonly labels?: Readonly<Labels> | undefined;
}

export function childMetadata(
  agent: Readonly<AgentDeployment>,
  { name, labels: extraLabels = {} }: ChildMetadataOptions = {},
): ChildMetadata {
  const identity = agentIdentity(agent);
  return {
    name: name ?? identity.name,
    namespace: identity.namespace,
    // Our labels win: a user's label must not detach a child from its agent.
    labels: { ...extraLabels, ...commonLabels(identity.name) },
    ownerReferences: [agentOwnerReference(agent)],
  };
}

import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  POLICY_CONFIGMAP_KEY,
  POLICY_HASH_ANNOTATION,
  canonicalJson,
  policyConfigMapName,
  policyHash,
  type PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';

export interface ConfigMap extends ChildObject<'v1', 'ConfigMap'> {
  data: Record<string, string>;
}

/**
 * ConfigMap `<agent>-policy`: the resolved policy the runtime watches and hot-reloads.
 * The hash rides on the ConfigMap, never on the pod template, so a policy edit reaches
 * running replicas without restarting them.
 */
export function buildPolicyConfigMap(
  agent: Readonly<AgentDeployment>,
  doc: Readonly<PolicyDocument>,
): ConfigMap {
  const metadata = childMetadata(agent, {
    name: policyConfigMapName(agentIdentity(agent).name),
  });
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...metadata, annotations: { [POLICY_HASH_ANNOTATION]: policyHash(doc) } },
    data: { [POLICY_CONFIGMAP_KEY]: canonicalJson(doc) },
  };
}

/**
 * Least privilege for the runtime: read its own policy ConfigMap, get its own AgentDeployment
 * (once, at startup, for the breakers its other replicas hold open: the object's spec reaches
 * it resolved in the policy anyway), and patch pods, which is how it reports breaker state
 * and the applied policy hash on its own Pod. Pod names are not known
 * in advance, so RBAC cannot narrow pod access by name: the admission policy in
 * config/admission confines the patch to the caller's own pod and to `breakwater.dev/`
 * annotations. Nothing else, and no Secret: provider keys arrive as environment variables and
 * client keys as a mounted volume, both read by the kubelet on the pod's behalf.
 */
import type { PolicyRule, RoleRef, Subject } from './kubeShapes.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { policyConfigMapName } from '../../../contract/src/policy/policyDocument.ts';
import { API_GROUP } from '../../../contract/src/api/group.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { runtimeServiceAccountName } from './serviceAccount.ts';

const RBAC_API_VERSION = 'rbac.authorization.k8s.io/v1';

export interface Role extends ChildObject<typeof RBAC_API_VERSION, 'Role'> {
  rules: PolicyRule[];
}

export interface RoleBinding extends ChildObject<typeof RBAC_API_VERSION, 'RoleBinding'> {
  roleRef: RoleRef;
  subjects: Subject[];
}

// list and watch with resourceNames are allowed when the request carries a
// metadata.name fieldSelector, which is how the runtime watches one object.
const READ_BY_NAME = ['get', 'list', 'watch'];

export function buildRole(agent: Readonly<AgentDeployment>): Role {
  const { name } = agentIdentity(agent);
  const rules: PolicyRule[] = [
    {
      apiGroups: [''],
      resources: ['configmaps'],
      resourceNames: [policyConfigMapName(name)],
      verbs: [...READ_BY_NAME],
    },
    {
      apiGroups: [API_GROUP],
      resources: ['agentdeployments'],
      resourceNames: [name],
      verbs: ['get'],
    },
    { apiGroups: [''], resources: ['pods'], verbs: ['patch'] },
  ];
  return { apiVersion: RBAC_API_VERSION, kind: 'Role', metadata: childMetadata(agent), rules };
}

export function buildRoleBinding(agent: Readonly<AgentDeployment>): RoleBinding {
  const { name, namespace } = agentIdentity(agent);
  return {
    apiVersion: RBAC_API_VERSION,
    kind: 'RoleBinding',
    metadata: childMetadata(agent),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: runtimeServiceAccountName(agent), namespace }],
  };
}

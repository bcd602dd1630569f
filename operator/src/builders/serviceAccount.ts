import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';

export type ServiceAccount = ChildObject<'v1', 'ServiceAccount'>;

/**
 * How the admission policy in config/admission recognises a runtime: by the name of the
 * ServiceAccount in its token. RBAC cannot say "only your own pod"; the policy can, but it sees
 * only the caller's username, so every runtime's account carries this prefix.
 */
export const RUNTIME_SERVICE_ACCOUNT_PREFIX = 'breakwater-runtime-';

export function runtimeServiceAccountName(agent: Readonly<AgentDeployment>): string {
  return `${RUNTIME_SERVICE_ACCOUNT_PREFIX}${agentIdentity(agent).name}`;
}

/** The identity the agent's pods run as; rbac.ts grants it what the runtime needs. */
export function buildServiceAccount(agent: Readonly<AgentDeployment>): ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(agent, { name: runtimeServiceAccountName(agent) }),
  };
}

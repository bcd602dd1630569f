import type { AgentDeployment } from '../../../runtime/src/api/resources.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';

export type ServiceAccount = ChildObject<'v1', 'ServiceAccount'>;

/** The identity the agent's pods run as; rbac.ts grants it what the runtime needs. */
export function buildServiceAccount(agent: Readonly<AgentDeployment>): ServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: childMetadata(agent) };
}

import type { AgentDeployment } from '../../../contract/src/api/resources.ts';

export interface AgentIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/**
 * The name, namespace and uid every child needs. An agent read from the API server always
 * has them; a missing one is a caller's bug, so it fails loudly instead of producing an
 * owner reference the API server would reject.
 */
export function agentIdentity(agent: Readonly<AgentDeployment>): AgentIdentity {
  const { name = '', namespace = '', uid = '' } = agent.metadata;
  if (name === '' || namespace === '' || uid === '') {
    const missing = Object.entries({ name, namespace, uid })
      .filter(([, value]) => value === '')
      .map(([field]) => `metadata.${field}`);
    throw new Error(`AgentDeployment has no ${missing.join(', ')}: its children cannot be built`);
  }
  return { name, namespace, uid };
}

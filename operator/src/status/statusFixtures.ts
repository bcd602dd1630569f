/**
 * The agent the status tests compute from: model `m`, key Secret `s`, in namespace `ns`, with
 * what a test adds to its spec or metadata. Not shipped: only *.test.ts files import it.
 */
import type { AgentDeployment, AgentDeploymentSpec } from '../../../contract/src/api/resources.ts';

export function statusAgent(
  spec: Partial<AgentDeploymentSpec> = {},
  metadata: { readonly name?: string; readonly generation?: number } = {},
): AgentDeployment {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name: 'support', namespace: 'ns', ...metadata },
    spec: { model: { name: 'm' }, provider: { apiKeySecretRef: { name: 's', key: 'k' } }, ...spec },
  };
}

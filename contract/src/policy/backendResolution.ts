/**
 * The backends of an AgentDeployment in the policy document, and the environment variables
 * its keys reach the pods in: `provider` is the backend named "default" unless
 * `spec.backends` lists its own; a Bedrock or Vertex backend's endpoint comes from its region
 * when it names none. Defaults are the schema's (contract/src/api/specLimits.ts). Pure.
 */
import type { AgentDeployment } from '../api/resources.ts';
import { AGENT_DEPLOYMENT_LIMITS as AGENT } from '../api/specLimits.ts';
import type { Backend } from '../api/v1alpha1/agentdeployment.ts';
import type { BackendSettings } from './policyDocument.ts';

export const DEFAULT_BASE_URL = AGENT['provider.baseURL'].default;
export const PROVIDER_API_KEY_ENV = 'ANTHROPIC_API_KEY';

/** Environment variable that carries backend `index`'s API key in the agent's pods. */
export const backendApiKeyEnv = (index: number): string => `BREAKWATER_BACKEND_${index}_API_KEY`;

/** Each environment variable the policy document names for a key, and the Secret key behind it. */
export function apiKeySources(
  agent: AgentDeployment,
): { readonly env: string; readonly secret: { readonly name: string; readonly key: string } }[] {
  const { provider, backends = [] } = agent.spec;
  const sources = [{ env: PROVIDER_API_KEY_ENV, secret: provider.apiKeySecretRef }];
  backends.forEach((backend, index) => {
    if (backend.apiKeySecretRef !== undefined)
      sources.push({ env: backendApiKeyEnv(index), secret: backend.apiKeySecretRef });
  });
  return sources;
}

/** `provider` is the backend named "default" unless `backends` lists its own. */
export function resolveBackends(agent: AgentDeployment): BackendSettings[] {
  const { provider, backends } = agent.spec;
  if (backends === undefined || backends.length === 0) {
    return [
      {
        name: 'default',
        baseURL: provider.baseURL ?? DEFAULT_BASE_URL,
        apiKeyEnv: PROVIDER_API_KEY_ENV,
        weight: 1,
      },
    ];
  }
  return backends.map((backend, index) => resolveBackend(backend, index));
}

/** One backend; `priority` and `models` written only when set (see BackendSettings). */
function resolveBackend(backend: Backend, index: number): BackendSettings {
  const priority = backend.priority ?? AGENT['backends[].priority'].default;
  const models = definedEntries(backend.models);
  const common = {
    name: backend.name,
    weight: backend.weight ?? AGENT['backends[].weight'].default,
    ...(priority === AGENT['backends[].priority'].default ? {} : { priority }),
    ...(models === undefined ? {} : { models }),
  };
  const credentials =
    backend.credentialsSecretRef === undefined
      ? {}
      : { credentialsSecret: backend.credentialsSecretRef.name };
  const type = backend.type ?? AGENT['backends[].type'].default;
  switch (type) {
    case 'Anthropic':
      return {
        ...common,
        baseURL: backend.baseURL ?? DEFAULT_BASE_URL,
        apiKeyEnv:
          backend.apiKeySecretRef === undefined ? PROVIDER_API_KEY_ENV : backendApiKeyEnv(index),
      };
    case 'Bedrock': {
      const region = backend.region ?? '';
      return {
        ...common,
        type,
        region,
        baseURL: backend.baseURL ?? bedrockEndpoint(region),
        ...credentials,
      };
    }
    case 'Vertex': {
      const region = backend.region ?? '';
      return {
        ...common,
        type,
        region,
        projectID: backend.projectID ?? '',
        baseURL: backend.baseURL ?? vertexEndpoint(region),
        ...credentials,
      };
    }
  }
}

/** Bedrock's runtime endpoint in `region`. */
export function bedrockEndpoint(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}

/** Vertex AI's endpoint in `region`; `global` has no regional host. */
export function vertexEndpoint(region: string): string {
  return region === 'global'
    ? 'https://aiplatform.googleapis.com'
    : `https://${region}-aiplatform.googleapis.com`;
}

function definedEntries(
  map: Readonly<Record<string, string | undefined>> | undefined,
): Record<string, string> | undefined {
  if (map === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) if (value !== undefined) out[key] = value;
  return Object.keys(out).length === 0 ? undefined : out;
}

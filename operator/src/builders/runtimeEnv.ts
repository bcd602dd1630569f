/**
 * The runtime container's environment. Identity, ports, the client-keys directory and API keys
 * are the operator's:
 * the args, probes and policy document depend on them, so a `spec.env` entry with one of
 * those names is left out. Every name appears once, because server-side apply rejects
 * duplicate list keys. OpenTelemetry is the user's to set (`spec.env`): the runtime exports
 * nothing without OTEL_EXPORTER_OTLP_ENDPOINT, and with it the same spans and `gen_ai.*`
 * metrics in a pod as in every other way it runs.
 */
import {
  AGENT_ENV,
  CLIENT_KEYS_DIR_ENV,
  CLIENT_KEYS_MOUNT_PATH,
  HTTP_PORT_ENV,
  METRICS_PORT_ENV,
  POD_NAME_ENV,
  POD_NAMESPACE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { EnvVar } from './kubeShapes.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  PROVIDER_API_KEY_ENV,
  backendApiKeyEnv,
} from '../../../contract/src/policy/policyResolution.ts';
import { agentIdentity } from './agentIdentity.ts';
import { HTTP_PORT, METRICS_PORT } from '../../../contract/src/pod/runtimePorts.ts';
import {
  POD_CLIENT_KEY_ENV,
  POD_CLIENT_KEY_VALUE,
  POD_UID_ENV,
} from '../../../contract/src/pod/agentEnvironment.ts';

export function buildRuntimeEnv(agent: Readonly<AgentDeployment>): EnvVar[] {
  const owned = [...identityEnv(agent), ...apiKeyEnv(agent)];
  const ownedNames = new Set(owned.map((env) => env.name));
  const userEnv = (agent.spec.env ?? []).filter((env) => !ownedNames.has(env.name));
  return [
    ...owned,
    // Cloned: the output must share nothing with the agent it was built from.
    ...userEnv.map((env): EnvVar => structuredClone(env)),
  ];
}

function identityEnv(agent: Readonly<AgentDeployment>): EnvVar[] {
  return [
    { name: AGENT_ENV, value: agentIdentity(agent).name },
    { name: POD_NAME_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: POD_NAMESPACE_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: HTTP_PORT_ENV, value: String(HTTP_PORT) },
    { name: METRICS_PORT_ENV, value: String(METRICS_PORT) },
    // Where deployment.ts mounts the client-keys Secret, when there is one.
    ...(agent.spec.access?.clientKeysSecretRef === undefined
      ? []
      : [{ name: CLIENT_KEYS_DIR_ENV, value: CLIENT_KEYS_MOUNT_PATH }]),
    // The per-pod key the agent container is given (agentContainer.ts), uid first, since the
    // key refers to it.
    ...(agent.spec.agent === undefined
      ? []
      : [
          { name: POD_UID_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
          { name: POD_CLIENT_KEY_ENV, value: POD_CLIENT_KEY_VALUE },
        ]),
  ];
}

/** The provider key, and each backend's own key under the name the policy document gives it. */
function apiKeyEnv(agent: Readonly<AgentDeployment>): EnvVar[] {
  const { provider, backends = [] } = agent.spec;
  const env: EnvVar[] = [
    {
      name: PROVIDER_API_KEY_ENV,
      valueFrom: {
        secretKeyRef: { name: provider.apiKeySecretRef.name, key: provider.apiKeySecretRef.key },
      },
    },
  ];
  backends.forEach((backend, index) => {
    const ref = backend.apiKeySecretRef;
    if (ref === undefined) return;
    env.push({
      name: backendApiKeyEnv(index),
      valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } },
    });
  });
  return env;
}

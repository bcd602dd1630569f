import { createHash } from 'node:crypto';
import type {
  Container,
  DeploymentSpec,
  PodSpec,
  Probe,
  ResourceRequirements,
  SecurityContext,
  Volume,
} from './kubeShapes.ts';

import type { AgentDeployment, Quantity } from '../../../contract/src/api/resources.ts';
import {
  POLICY_HASH_ANNOTATION,
  type PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import { BREAKERS_ANNOTATION } from '../../../contract/src/reporting/breakerReport.ts';
import { MCP_ANNOTATION } from '../../../contract/src/reporting/mcpReport.ts';
import { agentIdentity } from './agentIdentity.ts';
import type { BuilderOptions } from './builderOptions.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { commonLabels, selectorLabels } from './labels.ts';
import {
  AGENT_ENV,
  BACKEND_CREDENTIALS_MOUNT_PATH,
  CLIENT_KEYS_MOUNT_PATH,
  HTTP_PORT_ENV,
  METRICS_PORT_ENV,
  POD_NAMESPACE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import { durabilityVolumes, rateLimitStoreVolumes, type StoreSecretFile } from './secretFiles.ts';
import { buildRuntimeEnv } from './runtimeEnv.ts';
import { mcpHeadersVolumes, type SecretDirectoryVolume } from './mcpHeaders.ts';
import {
  HTTP_PORT,
  HTTP_PORT_NAME,
  METRICS_PORT,
  METRICS_PORT_NAME,
} from '../../../contract/src/pod/runtimePorts.ts';
import { runtimeServiceAccountName } from './serviceAccount.ts';
import { agentVolumes, buildAgentContainer } from './agentContainer.ts';
import { shutdownTiming, type ShutdownTiming } from './shutdownTiming.ts';

export interface Deployment extends ChildObject<'apps/v1', 'Deployment'> {
  spec: DeploymentSpec;
}

export const RUNTIME_CONTAINER = 'runtime';
export const RUNTIME_COMMAND = 'breakwater-runtime';
/** The distroless "nonroot" user: numeric, so the kubelet can verify runAsNonRoot. */
export const RUNTIME_USER = 65532;
const CLIENT_KEYS_VOLUME = 'client-keys';
const RUNTIME_API_ACCESS_VOLUME = 'runtime-api-access';
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const BACKEND_CREDENTIALS_VOLUME_PREFIX = 'backend-';
/** A volume name is a DNS label. */
const MAX_VOLUME_NAME = 63;

const DEFAULT_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: '512Mi' },
} as const;

// Written by the runtime on its own Pod; in the template they would be stale copies, and
// editing one would roll every pod.
const RUNTIME_ANNOTATIONS: ReadonlySet<string> = new Set([
  POLICY_HASH_ANNOTATION,
  BREAKERS_ANNOTATION,
  MCP_ANNOTATION,
]);

/**
 * The agent's runtime pods. Nothing else derived from the policy enters the pod template:
 * policy edits travel through the ConfigMap watch, and a template change would restart every
 * pod. The exception is the shutdown timing, which the longest call bounds (`doc`): a pod's
 * drain and its grace period must agree, so both travel in the pod's own spec.
 */
export function buildDeployment(
  agent: Readonly<AgentDeployment>,
  doc: Readonly<PolicyDocument>,
  options: Readonly<BuilderOptions>,
): Deployment {
  const { name } = agentIdentity(agent);
  const { replicas, autoscaling } = agent.spec;
  const shutdown = shutdownTiming(agent, doc);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(agent),
    spec: {
      // With autoscaling the HPA owns the replica count; applying one would fight it.
      ...(autoscaling === undefined ? { replicas: replicas ?? 1 } : {}),
      selector: { matchLabels: selectorLabels(name) },
      // Surge first, so a rollout never drops below the desired capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: podMetadata(agent),
        spec: podSpec(agent, doc, shutdown, options),
      },
    },
  };
}

function podMetadata(agent: Readonly<AgentDeployment>): {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
} {
  const { name } = agentIdentity(agent);
  const overrides = agent.spec.podTemplate;
  // Our labels last: a podTemplate label must never detach pods from their selector.
  const labels = { ...overrides?.labels, ...commonLabels(name) };
  const annotations = Object.fromEntries(
    Object.entries(overrides?.annotations ?? {}).filter(([key]) => !RUNTIME_ANNOTATIONS.has(key)),
  );
  return Object.keys(annotations).length === 0 ? { labels } : { labels, annotations };
}

function podSpec(
  agent: Readonly<AgentDeployment>,
  doc: Readonly<PolicyDocument>,
  shutdown: ShutdownTiming,
  options: Readonly<BuilderOptions>,
): PodSpec {
  const { podTemplate } = agent.spec;
  const clientKeys = agent.spec.access?.clientKeysSecretRef?.name;
  const storeSecrets = [...rateLimitStoreVolumes(doc), ...durabilityVolumes(doc)];
  const secretDirectories = [...backendCredentialsVolumes(doc), ...mcpHeadersVolumes(doc)];
  const volumes = [
    ...(clientKeys === undefined ? [] : [clientKeysVolume(clientKeys)]),
    ...storeSecrets.map((s) => s.volume),
    ...secretDirectories.map((s) => s.volume),
    ...(agent.spec.agent === undefined ? [] : [runtimeApiAccessVolume()]),
    ...agentVolumes(agent),
  ];
  const runtime = runtimeContainer(agent, shutdown, options, storeSecrets, secretDirectories);
  const { agent: agentSpec } = agent.spec;
  return {
    serviceAccountName: runtimeServiceAccountName(agent),
    // The runtime's identity is for the runtime: beside the team's agent its token is mounted
    // in the runtime container alone (runtimeApiAccessVolume), not in every container.
    ...(agentSpec === undefined ? {} : { automountServiceAccountToken: false }),
    terminationGracePeriodSeconds: shutdown.terminationGracePeriodSeconds,
    // With the team's own agent, the runtime is a native sidecar: the kubelet starts it first
    // and starts the agent once its startup probe passes, keeps it through the agent's
    // shutdown, and stops it last.
    ...(agentSpec === undefined
      ? { containers: [runtime] }
      : {
          initContainers: [{ ...runtime, restartPolicy: 'Always' }],
          containers: [buildAgentContainer(agent, agentSpec)],
        }),
    ...(volumes.length === 0 ? {} : { volumes }),
    ...(podTemplate?.nodeSelector === undefined
      ? {}
      : { nodeSelector: { ...podTemplate.nodeSelector } }),
    ...(podTemplate?.tolerations === undefined
      ? {}
      : { tolerations: structuredClone(podTemplate.tolerations) }),
    ...(podTemplate?.affinity === undefined
      ? {}
      : { affinity: structuredClone(podTemplate.affinity) }),
  };
}

function runtimeContainer(
  agent: Readonly<AgentDeployment>,
  shutdown: ShutdownTiming,
  options: Readonly<BuilderOptions>,
  storeSecrets: readonly StoreSecretFile[],
  secretDirectories: readonly SecretDirectoryVolume[],
): Container {
  const volumeMounts = [
    ...(agent.spec.access?.clientKeysSecretRef === undefined
      ? []
      : [{ name: CLIENT_KEYS_VOLUME, mountPath: CLIENT_KEYS_MOUNT_PATH, readOnly: true }]),
    ...storeSecrets.map((s) => s.mount),
    ...secretDirectories.map((s) => s.mount),
    ...(agent.spec.agent === undefined
      ? []
      : [{ name: RUNTIME_API_ACCESS_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }]),
  ];
  return {
    name: RUNTIME_CONTAINER,
    image: agent.spec.image ?? options.runtimeImage,
    command: [RUNTIME_COMMAND],
    args: [
      `--agent=$(${AGENT_ENV})`,
      `--namespace=$(${POD_NAMESPACE_ENV})`,
      `--port=$(${HTTP_PORT_ENV})`,
      `--metrics-port=$(${METRICS_PORT_ENV})`,
      `--drain-delay-ms=${String(shutdown.drainDelayMs)}`,
      `--shutdown-grace-ms=${String(shutdown.inFlightGraceMs)}`,
    ],
    env: [...buildRuntimeEnv(agent), ...storeSecrets.map((s) => s.env)],
    ...(volumeMounts.length === 0 ? {} : { volumeMounts }),
    ports: [
      { name: HTTP_PORT_NAME, containerPort: HTTP_PORT, protocol: 'TCP' },
      { name: METRICS_PORT_NAME, containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    // Startup allows a minute to load the first policy; readiness never reflects the
    // provider's breaker (that would empty the Service), only the runtime itself.
    startupProbe: httpProbe('/health', { periodSeconds: 1, failureThreshold: 60 }),
    readinessProbe: httpProbe('/health/ready', { periodSeconds: 2 }),
    livenessProbe: httpProbe('/health/live', { periodSeconds: 10, failureThreshold: 3 }),
    resources: resources(agent),
    securityContext: restrictedSecurityContext(),
  };
}

/**
 * The client-keys Secret as files the runtime reads and watches. The kubelet fetches it, so
 * neither the operator nor the runtime holds any access to Secrets, and a rotation reaches the
 * running pods within the kubelet's sync period. Optional: while the Secret is missing the pod
 * still starts, and its runtime refuses every caller, as it does with an empty Secret.
 */
function clientKeysVolume(secretName: string): Volume {
  return { name: CLIENT_KEYS_VOLUME, secret: { secretName, optional: true } };
}

/**
 * What the ServiceAccount admission plugin mounts into every container as `kube-api-access-*`
 * (a bound token, the cluster's CA, the namespace), made by hand so that only the runtime
 * container gets it when the team's agent shares the pod: the agent must not act as the
 * runtime (patch the pod's breaker report, read the policy).
 */
function runtimeApiAccessVolume(): Volume {
  return {
    name: RUNTIME_API_ACCESS_VOLUME,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

/**
 * Each Bedrock or Vertex backend's `credentialsSecretRef`, whole, as a directory named for the
 * backend under BACKEND_CREDENTIALS_MOUNT_PATH, in the runtime container only. Mounted, not
 * read through the API, so neither the operator nor the runtime needs access to Secrets, and
 * the kubelet swaps a rotated Secret in for the runtime to re-read. Optional, as the other
 * Secret volumes are: while the Secret is missing the pod still starts and only that backend
 * fails its calls, which move to the next backend.
 */
function backendCredentialsVolumes(doc: Readonly<PolicyDocument>): SecretDirectoryVolume[] {
  return doc.backends.flatMap((backend) => {
    if (backend.type !== 'Bedrock' && backend.type !== 'Vertex') return [];
    const secretName = backend.credentialsSecret;
    if (secretName === undefined) return [];
    const name = backendCredentialsVolumeName(backend.name);
    return [
      {
        volume: { name, secret: { secretName, optional: true } },
        mount: {
          name,
          mountPath: `${BACKEND_CREDENTIALS_MOUNT_PATH}/${backend.name}`,
          readOnly: true,
        },
      },
    ];
  });
}

/**
 * `backend-<backend name>`, a DNS label unique among the pod's volumes because backend names
 * are. Named for the backend, not its index, so that reordering or removing another backend
 * does not change this volume and roll every pod. A name too long for the prefix keeps what
 * fits and ends in a hash of the whole name, to stay unique.
 */
export function backendCredentialsVolumeName(backend: string): string {
  const name = `${BACKEND_CREDENTIALS_VOLUME_PREFIX}${backend}`;
  if (name.length <= MAX_VOLUME_NAME) return name;
  const hash = createHash('sha256').update(backend).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_VOLUME_NAME - hash.length - 1)}-${hash}`;
}

function httpProbe(path: string, timing: Pick<Probe, 'periodSeconds' | 'failureThreshold'>): Probe {
  return { httpGet: { path, port: HTTP_PORT_NAME }, ...timing };
}

/** Passes the Pod Security "restricted" profile. */
function restrictedSecurityContext(): SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUNTIME_USER,
    runAsGroup: RUNTIME_USER,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * `spec.resources` replaces the defaults whole: mixing them could pair a user's large
 * memory request with the default limit below it.
 */
function resources(agent: Readonly<AgentDeployment>): ResourceRequirements {
  const spec = agent.spec.resources;
  if (spec === undefined) {
    return {
      requests: { ...DEFAULT_RESOURCES.requests },
      limits: { ...DEFAULT_RESOURCES.limits },
    };
  }
  return {
    ...(spec.requests === undefined ? {} : { requests: quantities(spec.requests) }),
    ...(spec.limits === undefined ? {} : { limits: quantities(spec.limits) }),
  };
}

/** Quantities as strings, the form the API server returns, so applies compare equal. */
function quantities(values: Readonly<Record<string, Quantity>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
}

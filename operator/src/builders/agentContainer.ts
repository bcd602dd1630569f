/**
 * The team's own agent container (`spec.agent`), run beside the runtime in the same pod. It
 * reaches the runtime on the pod's loopback with a per-pod client key, through the variables
 * the Anthropic SDKs read by themselves, so an unmodified agent is guarded. Nothing of the
 * provider's key or the cloud credentials enters it: those are the runtime container's alone.
 */
import type {
  AgentContainer,
  AgentDeployment,
  AgentProbe,
  AgentSecurityContext,
} from '../../../contract/src/api/resources.ts';
import { AGENT_DEPLOYMENT_LIMITS as LIMITS } from '../../../contract/src/api/specLimits.ts';
import {
  ANTHROPIC_API_KEY_ENV,
  ANTHROPIC_BASE_URL_ENV,
  POD_CLIENT_KEY_VALUE,
  POD_UID_ENV,
  RUNTIME_LOOPBACK_URL,
  mcpLoopbackUrl,
  mcpUrlEnv,
} from '../../../contract/src/pod/agentEnvironment.ts';
import { HTTP_PORT_NAME } from '../../../contract/src/pod/runtimePorts.ts';
import type {
  Container,
  EnvVar,
  Probe,
  ResourceRequirements,
  SecurityContext,
  Volume,
} from './kubeShapes.ts';

export const AGENT_CONTAINER = 'agent';

const DEFAULT_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: '512Mi' },
} as const;

/**
 * What the operator puts into the agent container's environment, in this order: the pod's
 * uid first, because the key after it refers to it as `$(BREAKWATER_POD_UID)`.
 */
export function injectedAgentEnv(agent: Readonly<AgentDeployment>): EnvVar[] {
  return [
    { name: POD_UID_ENV, valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    { name: ANTHROPIC_BASE_URL_ENV, value: RUNTIME_LOOPBACK_URL },
    { name: ANTHROPIC_API_KEY_ENV, value: POD_CLIENT_KEY_VALUE },
    ...(agent.spec.mcpServers ?? []).map((server): EnvVar => ({
      name: mcpUrlEnv(server.name),
      value: mcpLoopbackUrl(server.name),
    })),
  ];
}

/** The injected variables the agent's own `env` sets itself, whose values therefore win. */
export function overriddenAgentEnv(agent: Readonly<AgentDeployment>): string[] {
  const own = new Set((agent.spec.agent?.env ?? []).map((env) => env.name));
  return injectedAgentEnv(agent)
    .map((env) => env.name)
    .filter((name) => own.has(name));
}

export function buildAgentContainer(
  agent: Readonly<AgentDeployment>,
  spec: Readonly<AgentContainer>,
): Container {
  const own = (spec.env ?? []).map((env): EnvVar => structuredClone(env) as EnvVar);
  const ownNames = new Set(own.map((env) => env.name));
  // The agent's value wins; every name appears once, as server-side apply requires.
  const env = [...injectedAgentEnv(agent).filter((e) => !ownNames.has(e.name)), ...own];
  return {
    name: AGENT_CONTAINER,
    image: spec.image,
    ...(spec.command === undefined ? {} : { command: [...spec.command] }),
    ...(spec.args === undefined ? {} : { args: [...spec.args] }),
    env,
    ...(spec.envFrom === undefined ? {} : { envFrom: structuredClone(spec.envFrom) }),
    ...(spec.ports === undefined
      ? {}
      : {
          ports: spec.ports.map((port) => ({
            name: port.name,
            containerPort: port.containerPort,
            protocol: port.protocol ?? LIMITS['agent.ports[].protocol'].default,
          })),
        }),
    ...(spec.volumeMounts === undefined
      ? {}
      : {
          volumeMounts: spec.volumeMounts.map((mount) => ({
            name: mount.name,
            mountPath: mount.mountPath,
            ...(mount.subPath === undefined ? {} : { subPath: mount.subPath }),
            readOnly: mount.readOnly ?? LIMITS['agent.volumeMounts[].readOnly'].default,
          })),
        }),
    ...probe('livenessProbe', spec.livenessProbe),
    ...probe('readinessProbe', spec.readinessProbe),
    ...probe('startupProbe', spec.startupProbe),
    resources: agentResources(spec),
    securityContext: agentSecurityContext(spec.securityContext),
  };
}

/** The volumes `spec.podTemplate.volumes` declares, which only the agent container mounts. */
export function agentVolumes(agent: Readonly<AgentDeployment>): Volume[] {
  if (agent.spec.agent === undefined) return [];
  return (agent.spec.podTemplate?.volumes ?? []).map(
    (volume): Volume => structuredClone(volume) as Volume,
  );
}

/**
 * The container port the Service's http port reaches: the agent's first declared port, or
 * the runtime's API when the agent declares none (or there is no agent).
 */
export function serviceTargetPort(agent: Readonly<AgentDeployment>): string {
  return agent.spec.agent?.ports?.[0]?.name ?? HTTP_PORT_NAME;
}

function probe(
  key: 'livenessProbe' | 'readinessProbe' | 'startupProbe',
  spec: Readonly<AgentProbe> | undefined,
): Partial<Record<typeof key, Probe>> {
  return spec === undefined ? {} : { [key]: structuredClone(spec) as Probe };
}

/** As the runtime's: `resources` replaces the defaults whole, never a mix of both. */
function agentResources(spec: Readonly<AgentContainer>): ResourceRequirements {
  const { resources } = spec;
  if (resources === undefined) {
    return {
      requests: { ...DEFAULT_RESOURCES.requests },
      limits: { ...DEFAULT_RESOURCES.limits },
    };
  }
  const strings = (values: Readonly<Record<string, string | number>>): Record<string, string> =>
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
  return {
    ...(resources.requests === undefined ? {} : { requests: strings(resources.requests) }),
    ...(resources.limits === undefined ? {} : { limits: strings(resources.limits) }),
  };
}

/**
 * The schema's defaults (the Pod Security "restricted" profile) under what the agent sets: the
 * API server fills them in at admission, and an agent that never went through it (a unit test,
 * a dry run) gets the same container.
 */
export function agentSecurityContext(
  spec: Readonly<AgentSecurityContext> | undefined,
): SecurityContext {
  const sc = spec ?? {};
  return {
    ...(sc.runAsUser === undefined ? {} : { runAsUser: sc.runAsUser }),
    ...(sc.runAsGroup === undefined ? {} : { runAsGroup: sc.runAsGroup }),
    runAsNonRoot: sc.runAsNonRoot ?? LIMITS['agent.securityContext.runAsNonRoot'].default,
    allowPrivilegeEscalation:
      sc.allowPrivilegeEscalation ??
      LIMITS['agent.securityContext.allowPrivilegeEscalation'].default,
    readOnlyRootFilesystem:
      sc.readOnlyRootFilesystem ?? LIMITS['agent.securityContext.readOnlyRootFilesystem'].default,
    capabilities: {
      ...(sc.capabilities?.add === undefined ? {} : { add: [...sc.capabilities.add] }),
      drop: [
        ...(sc.capabilities?.drop ?? LIMITS['agent.securityContext.capabilities.drop'].default),
      ],
    },
    seccompProfile: {
      type: sc.seccompProfile?.type ?? LIMITS['agent.securityContext.seccompProfile.type'].default,
      ...(sc.seccompProfile?.localhostProfile === undefined
        ? {}
        : { localhostProfile: sc.seccompProfile.localhostProfile }),
    },
  };
}

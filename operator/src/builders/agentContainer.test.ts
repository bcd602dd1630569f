import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { FALLBACK_MODEL } from '../../../contract/src/api/sampleModels.ts';
import { documentFor, minimalAgent, ownContainerAgent, testOptions } from './builderFixtures.ts';
import { AGENT_CONTAINER, overriddenAgentEnv } from './agentContainer.ts';
import { buildChildren } from './childObjects.ts';
import { RUNTIME_CONTAINER, type Deployment } from './deployment.ts';
import type { Container } from './kubeShapes.ts';
import { buildNetworkPolicy } from './networkPolicy.ts';
import { buildService } from './service.ts';

function deploymentOf(agent: AgentDeployment): Deployment {
  const children = buildChildren(agent, documentFor(agent), testOptions);
  const deployment = children.apply.find((child) => child.kind === 'Deployment');
  if (deployment === undefined) throw new Error('no Deployment');
  return deployment as Deployment;
}

function containerOf(agent: AgentDeployment, name: string): Container {
  const pod = deploymentOf(agent).spec.template.spec;
  const found = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].find(
    (container) => container.name === name,
  );
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

const envOf = (container: Container): Record<string, unknown> =>
  Object.fromEntries((container.env ?? []).map((env) => [env.name, env.value ?? env.valueFrom]));

/** An own-container agent with every kind of provider credential the runtime can hold. */
function agentWithEveryCredential(): AgentDeployment {
  const agent = ownContainerAgent();
  agent.spec.backends = [
    {
      name: 'direct',
      baseURL: 'https://api.anthropic.com',
      apiKeySecretRef: { name: 'anthropic-direct', key: 'api-key' },
    },
    {
      name: 'bedrock',
      type: 'Bedrock',
      region: 'us-east-1',
      credentialsSecretRef: { name: 'aws-keys' },
      models: { [agent.spec.model.name]: 'a', [FALLBACK_MODEL]: 'b' },
    },
  ];
  agent.spec.mcpServers = [
    { name: 'github', url: 'http://github-mcp:8080/mcp', headersSecretRef: { name: 'gh-token' } },
  ];
  return agent;
}

describe('an AgentDeployment with its own agent container', () => {
  it('runs the runtime as a native sidecar the agent container waits for', () => {
    const pod = deploymentOf(ownContainerAgent()).spec.template.spec;
    expect(pod?.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([
      [RUNTIME_CONTAINER, 'Always'],
    ]);
    // The kubelet starts the next container once a sidecar's startup probe passes.
    expect(pod?.initContainers?.[0]?.startupProbe?.httpGet?.path).toBe('/health');
    expect(pod?.containers.map((c) => c.name)).toEqual([AGENT_CONTAINER]);
  });

  it('runs the runtime alone, as a plain container, without spec.agent', () => {
    const pod = deploymentOf(minimalAgent()).spec.template.spec;
    expect(pod?.initContainers).toBeUndefined();
    expect(pod?.containers.map((c) => [c.name, c.restartPolicy])).toEqual([
      [RUNTIME_CONTAINER, undefined],
    ]);
  });

  it('points the SDK at the runtime on loopback with the per-pod key, and each MCP server at /mcp/<name>', () => {
    const agent = ownContainerAgent();
    expect(envOf(containerOf(agent, AGENT_CONTAINER))).toMatchObject({
      BREAKWATER_POD_UID: { fieldRef: { fieldPath: 'metadata.uid' } },
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:8080',
      ANTHROPIC_API_KEY: 'breakwater-pod-$(BREAKWATER_POD_UID)',
      BREAKWATER_MCP_GITHUB_ISSUES_URL: 'http://127.0.0.1:8080/mcp/github-issues',
      LOG_LEVEL: 'info',
    });
    // The runtime accepts that key, made of the same uid, from loopback peers only.
    expect(envOf(containerOf(agent, RUNTIME_CONTAINER))).toMatchObject({
      BREAKWATER_POD_UID: { fieldRef: { fieldPath: 'metadata.uid' } },
      BREAKWATER_POD_CLIENT_KEY: 'breakwater-pod-$(BREAKWATER_POD_UID)',
    });
  });

  it('defines the pod uid before the key that refers to it, in both containers', () => {
    for (const name of [AGENT_CONTAINER, RUNTIME_CONTAINER]) {
      const names = (containerOf(ownContainerAgent(), name).env ?? []).map((env) => env.name);
      expect(names.indexOf('BREAKWATER_POD_UID')).toBeLessThan(
        names.indexOf(name === AGENT_CONTAINER ? 'ANTHROPIC_API_KEY' : 'BREAKWATER_POD_CLIENT_KEY'),
      );
    }
  });

  it('gives the agent container no Secret the runtime holds: no provider key, cloud credential, client key or MCP header', () => {
    const agent = agentWithEveryCredential();
    const pod = deploymentOf(agent).spec.template.spec;
    const runtime = containerOf(agent, RUNTIME_CONTAINER);
    const own = containerOf(agent, AGENT_CONTAINER);
    const runtimeSecretVolumes = (pod?.volumes ?? [])
      .filter((volume) => volume.secret !== undefined)
      .map((volume) => volume.name);
    // The runtime does hold them all, so the check below is about something real.
    expect(runtimeSecretVolumes).toEqual(['client-keys', 'backend-bedrock', 'mcp-github']);
    expect(runtime.env?.filter((env) => env.valueFrom?.secretKeyRef !== undefined)).toHaveLength(2);
    expect(own.env?.filter((env) => env.valueFrom?.secretKeyRef !== undefined)).toEqual([]);
    expect(own.envFrom?.filter((from) => from.secretRef !== undefined)).toEqual([]);
    expect(own.volumeMounts?.map((mount) => mount.name)).toEqual(['code', 'scratch']);
  });

  it.each<{ name: string; env: { name: string; value: string }[]; overridden: string[] }>([
    { name: 'injects every variable when the agent sets none of them', env: [], overridden: [] },
    {
      name: "keeps the agent's own ANTHROPIC_BASE_URL and names it",
      env: [{ name: 'ANTHROPIC_BASE_URL', value: 'https://gateway.example.com' }],
      overridden: ['ANTHROPIC_BASE_URL'],
    },
    {
      name: "keeps the agent's own key and MCP URL and names both",
      env: [
        { name: 'BREAKWATER_MCP_GITHUB_ISSUES_URL', value: 'http://elsewhere/mcp' },
        { name: 'ANTHROPIC_API_KEY', value: 'a-client-key' },
      ],
      overridden: ['ANTHROPIC_API_KEY', 'BREAKWATER_MCP_GITHUB_ISSUES_URL'],
    },
  ])('$name', ({ env, overridden }) => {
    const agent = ownContainerAgent();
    const spec = agent.spec.agent;
    if (spec === undefined) throw new Error('fixture without spec.agent');
    spec.env = env;
    expect(overriddenAgentEnv(agent)).toEqual(overridden);
    const built = containerOf(agent, AGENT_CONTAINER).env ?? [];
    const names = built.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    for (const own of env)
      expect(envOf(containerOf(agent, AGENT_CONTAINER))[own.name]).toBe(own.value);
  });

  it("sends the Service's and the NetworkPolicy's http port to the agent's first port, the runtime's without one", () => {
    const agent = ownContainerAgent();
    const servicePorts = (a: AgentDeployment) =>
      buildService(a).spec.ports?.map((port) => [port.name, port.targetPort]);
    const policyPorts = (a: AgentDeployment) =>
      buildNetworkPolicy(a, { enabled: true }).spec.ingress.map((rule) => rule.ports[0]?.port);
    expect(servicePorts(agent)).toEqual([
      ['http', 'web'],
      ['metrics', 'metrics'],
    ]);
    expect(policyPorts(agent)).toEqual(['web', 'metrics']);
    delete agent.spec.agent?.ports;
    expect(servicePorts(agent)).toEqual([
      ['http', 'http'],
      ['metrics', 'metrics'],
    ]);
    expect(policyPorts(agent)).toEqual(['http', 'metrics']);
  });

  it.each<{
    name: string;
    ports: boolean;
    grace: number;
    runtimeDrainMs: number;
  }>([
    {
      // Agent: 5 s drain + 92 s call + 2 s exit; runtime: no drain (nothing reaches it from
      // outside) + 2 s exit.
      name: 'covers the agent draining and finishing its longest call, then the runtime exiting',
      ports: true,
      grace: 101,
      runtimeDrainMs: 0,
    },
    {
      name: 'lets the runtime drain too when the Service still reaches it (an agent with no port)',
      ports: false,
      grace: 106,
      runtimeDrainMs: 5_000,
    },
  ])('$name', ({ ports, grace, runtimeDrainMs }) => {
    const agent = ownContainerAgent();
    agent.spec.model = { name: agent.spec.model.name };
    if (!ports) delete agent.spec.agent?.ports;
    expect(deploymentOf(agent).spec.template.spec?.terminationGracePeriodSeconds).toBe(grace);
    expect(containerOf(agent, RUNTIME_CONTAINER).args).toContain(
      `--drain-delay-ms=${String(runtimeDrainMs)}`,
    );
  });

  it('runs the agent restricted by default, as the runtime, and relaxes only what it sets', () => {
    const agent = ownContainerAgent();
    const restricted = {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    };
    expect(containerOf(agent, AGENT_CONTAINER).securityContext).toEqual(restricted);
    const spec = agent.spec.agent;
    if (spec === undefined) throw new Error('fixture without spec.agent');
    spec.securityContext = { readOnlyRootFilesystem: false, runAsUser: 1000 };
    expect(containerOf(agent, AGENT_CONTAINER).securityContext).toEqual({
      ...restricted,
      readOnlyRootFilesystem: false,
      runAsUser: 1000,
    });
  });

  it("mounts the runtime's API token in the runtime container only, and no token in the agent's", () => {
    const agent = ownContainerAgent();
    const pod = deploymentOf(agent).spec.template.spec;
    expect(pod?.automountServiceAccountToken).toBe(false);
    const tokenMounts = (name: string) =>
      (containerOf(agent, name).volumeMounts ?? []).filter(
        (m) => m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
      );
    expect(tokenMounts(RUNTIME_CONTAINER).map((m) => m.name)).toEqual(['runtime-api-access']);
    expect(tokenMounts(AGENT_CONTAINER)).toEqual([]);
    const volume = pod?.volumes?.find((v) => v.name === 'runtime-api-access');
    expect(volume?.projected?.sources?.map((s) => Object.keys(s)[0])).toEqual([
      'serviceAccountToken',
      'configMap',
      'downwardAPI',
    ]);
    // Without spec.agent the admission plugin mounts the token, as before.
    expect(deploymentOf(minimalAgent()).spec.template.spec?.automountServiceAccountToken).toBe(
      undefined,
    );
  });

  it("mounts the agent's volumes in the agent container only", () => {
    const agent = ownContainerAgent();
    expect(containerOf(agent, RUNTIME_CONTAINER).volumeMounts?.map((m) => m.name)).toEqual([
      'client-keys',
      'runtime-api-access',
    ]);
    expect(
      deploymentOf(agent)
        .spec.template.spec?.volumes?.map((v) => v.name)
        .filter((name) => name === 'code' || name === 'scratch'),
    ).toEqual(['code', 'scratch']);
  });

  it('declares no volumes of podTemplate without spec.agent, since nothing would mount them', () => {
    const agent = minimalAgent();
    agent.spec.podTemplate = { volumes: [{ name: 'code', configMap: { name: 'code' } }] };
    expect(deploymentOf(agent).spec.template.spec?.volumes).toBeUndefined();
  });
});

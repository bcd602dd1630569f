/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
 * The generated spec names client-node classes for its pass-through fields (tolerations,
 * affinity, NetworkPolicy peers); agents arrive from the API server as plain JSON, and so
 * do these fixtures. */
/**
 * Agents for the builder tests, after the development and production presets in
 * config/samples: each returns a fresh object so a test may vary it freely.
 */
import type {
  AgentDeployment,
  AgentDeploymentSpec,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../../contract/src/api/resources.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../../contract/src/api/sampleModels.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import {
  resolvePolicy,
  type ResolveInputs,
} from '../../../contract/src/policy/policyResolution.ts';
import type { BuilderOptions } from './builderOptions.ts';

export const testOptions: BuilderOptions = {
  runtimeImage: 'ghcr.io/breakwater-dev/breakwater:0.1.0',
  serviceMonitorAvailable: true,
};

export function agentWith(
  spec: AgentDeploymentSpec,
  { name = 'support-agent', namespace = 'agents' }: { name?: string; namespace?: string } = {},
): AgentDeployment {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name, namespace, uid: `uid-of-${name}`, generation: 1 },
    spec,
  };
}

/** Only what the schema requires. */
export function minimalAgent(): AgentDeployment {
  return agentWith(
    {
      model: { name: FALLBACK_MODEL },
      provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
    },
    { name: 'minimal-agent', namespace: 'default' },
  );
}

/** One replica against the simulator, defaults everywhere else. */
export function developmentAgent(): AgentDeployment {
  return agentWith(
    {
      model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL] },
      systemPrompt: 'You are a helpful support agent.',
      provider: {
        apiKeySecretRef: { name: 'anthropic', key: 'api-key' },
        baseURL: 'http://llm-sim.breakwater-system.svc:8787',
      },
      circuitBreakerPolicyRef: { name: 'development' },
      replicas: 1,
      env: [{ name: 'LOG_LEVEL', value: 'debug' }],
    },
    { name: 'support-agent-dev', namespace: 'development' },
  );
}

/** Autoscaled, two backends, a tool, access control, NetworkPolicy and ServiceMonitor. */
export function productionAgent(): AgentDeployment {
  return agentWith({
    model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 2048 },
    systemPrompt: 'You are a careful support agent.',
    provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
    backends: [
      {
        name: 'primary',
        baseURL: 'https://api.anthropic.com',
        apiKeySecretRef: { name: 'anthropic-primary', key: 'api-key' },
        weight: 3,
      },
      { name: 'proxy', baseURL: 'https://llm-proxy.internal.example.com', weight: 1 },
    ],
    loadBalancing: 'Weighted',
    tools: [
      {
        name: 'lookup_order',
        description: 'Looks up an order by its id.',
        inputSchema: {
          type: 'object',
          properties: { orderId: { type: 'string' } },
          required: ['orderId'],
        },
        url: 'http://orders.shop.svc:8080/lookup',
        timeout: '5s',
      },
    ],
    circuitBreakerPolicyRef: { name: 'production' },
    rateLimitPolicyRef: { name: 'production' },
    timeout: '60s',
    autoscaling: {
      minReplicas: 3,
      maxReplicas: 12,
      targetCPUUtilizationPercentage: 70,
      targetMemoryUtilizationPercentage: 80,
    },
    access: {
      clientKeysSecretRef: { name: 'support-agent-clients' },
      networkPolicy: {
        enabled: true,
        allowFrom: [{ namespaceSelector: { matchLabels: { 'team.example.com/name': 'web' } } }],
      },
    },
    cache: { enabled: true },
    security: { promptInjection: 'Flag' },
    audit: { enabled: true },
    monitoring: {
      serviceMonitor: { enabled: true, interval: '15s', labels: { release: 'prometheus' } },
    },
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    env: [{ name: 'OTEL_METRICS_EXPORTER', value: 'otlp' }],
    podTemplate: {
      labels: { 'team.example.com/name': 'support' },
      annotations: { 'example.com/cost-center': 'cx' },
      nodeSelector: { 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'agents', effect: 'NoSchedule' }],
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: {
                topologyKey: 'kubernetes.io/hostname',
                labelSelector: { matchLabels: { 'breakwater.dev/agent': 'support-agent' } },
              },
            },
          ],
        },
      },
    },
    terminationGracePeriodSeconds: 90,
  });
}

export function productionPolicies(): {
  circuitBreakerPolicy: CircuitBreakerPolicy;
  rateLimitPolicy: RateLimitPolicy;
} {
  const metadata = { name: 'production', namespace: 'agents' };
  return {
    circuitBreakerPolicy: {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'CircuitBreakerPolicy',
      metadata,
      spec: { failureThreshold: 5, openDuration: '30s', maxOpenDuration: '5m' },
    },
    rateLimitPolicy: {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata,
      spec: { requests: { perSecond: 60, burst: 120 }, scope: 'Cluster' },
    },
  };
}

/** The policy document the operator would resolve for `agent` and the policies it found. */
export function documentFor(
  agent: AgentDeployment,
  policies: Omit<ResolveInputs, 'agent'> = {},
): PolicyDocument {
  return resolvePolicy({ agent, ...policies });
}

/**
 * The team's own agent (`spec.agent`): a Python service whose code is a ConfigMap, with an MCP
 * server and client keys, so that every injected variable and the loopback key show.
 */
export function ownContainerAgent(): AgentDeployment {
  return agentWith(
    {
      model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL] },
      provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
      mcpServers: [{ name: 'github-issues', url: 'http://github-mcp.tools.svc:8080/mcp' }],
      access: { clientKeysSecretRef: { name: 'triage-clients' } },
      agent: {
        image: 'registry.example.com/team/triage-agent:1.4.2',
        command: ['python3', '/app/agent.py'],
        env: [{ name: 'LOG_LEVEL', value: 'info' }],
        envFrom: [{ configMapRef: { name: 'triage-settings' } }],
        ports: [{ name: 'web', containerPort: 8000 }],
        volumeMounts: [
          { name: 'code', mountPath: '/app' },
          { name: 'scratch', mountPath: '/tmp', readOnly: false },
        ],
        readinessProbe: { httpGet: { path: '/healthz', port: 'web' }, periodSeconds: 2 },
      },
      podTemplate: {
        volumes: [
          { name: 'code', configMap: { name: 'triage-agent-code' } },
          { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
        ],
      },
    },
    { name: 'triage-agent', namespace: 'agents' },
  );
}

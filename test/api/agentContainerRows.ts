/**
 * Manifests with the team's own agent container (`spec.agent`) admission must refuse, each
 * with the field the refusal names: created for real on the cluster
 * (test/api/agentContainerManifests.test.ts) and read by the runtime's `--manifests`
 * (runtime/src/policy/manifestAdmission.test.ts).
 */
import { GROUP_VERSION } from '../../contract/src/api/group.ts';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import type { Manifest, Refusal, Spec } from './admission.ts';

export const container = (fields: Spec = {}): Spec => ({
  image: 'registry.example.com/team/agent:1.0.0',
  ports: [{ name: 'web', containerPort: 8000 }],
  ...fields,
});

export const agent = (agentSpec: Spec, more: Spec = {}): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'AgentDeployment',
  metadata: {},
  spec: {
    model: { name: FALLBACK_MODEL },
    provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
    backends: [
      {
        name: 'bedrock',
        type: 'Bedrock',
        region: 'us-east-1',
        credentialsSecretRef: { name: 'aws-keys' },
        models: { [FALLBACK_MODEL]: 'anthropic.model-v1:0' },
      },
    ],
    agent: agentSpec,
    ...more,
  },
});

export const withVolumes = (volumes: readonly Spec[]): Spec => ({ podTemplate: { volumes } });

export const agentContainerRows: readonly Refusal[] = [
  {
    name: 'rejects an agent container without an image',
    manifest: agent({ ports: [] }),
    field: 'spec.agent.image',
    says: 'Required value',
  },
  {
    name: 'rejects a mount of a volume the AgentDeployment does not declare',
    manifest: agent(container({ volumeMounts: [{ name: 'code', mountPath: '/app' }] })),
    field: 'spec.agent.volumeMounts',
    says: 'must name one of spec.podTemplate.volumes',
  },
  {
    name: 'rejects a relative mount path',
    manifest: agent(
      container({ volumeMounts: [{ name: 'code', mountPath: 'app' }] }),
      withVolumes([{ name: 'code', configMap: { name: 'code' } }]),
    ),
    field: 'spec.agent.volumeMounts[0].mountPath',
    says: 'should match',
  },
  {
    name: 'rejects a subPath that climbs out of its volume',
    manifest: agent(
      container({ volumeMounts: [{ name: 'code', mountPath: '/app', subPath: 'a/../../etc' }] }),
      withVolumes([{ name: 'code', configMap: { name: 'code' } }]),
    ),
    field: 'spec.agent.volumeMounts[0].subPath',
    says: 'a relative path without ..',
  },
  {
    name: "rejects the runtime's API port, which the pod's one network namespace already holds",
    manifest: agent(container({ ports: [{ name: 'web', containerPort: 8080 }] })),
    field: 'spec.agent.ports[0].containerPort',
    says: "8080 and 9090 are the runtime's ports",
  },
  {
    name: "rejects a port named like the runtime's metrics port",
    manifest: agent(container({ ports: [{ name: 'metrics', containerPort: 8000 }] })),
    field: 'spec.agent.ports[0].name',
    says: "http and metrics name the runtime's ports",
  },
  {
    name: 'rejects an env variable read from the provider key Secret',
    manifest: agent(
      container({
        env: [
          {
            name: 'MY_KEY',
            valueFrom: { secretKeyRef: { name: 'llm-provider-key', key: 'api-key' } },
          },
        ],
      }),
    ),
    field: 'spec.agent',
    says: 'may not read a Secret the runtime alone reads',
  },
  {
    name: 'rejects envFrom of a cloud backend credentials Secret',
    manifest: agent(container({ envFrom: [{ secretRef: { name: 'aws-keys' } }] })),
    field: 'spec.agent',
    says: 'may not read a Secret the runtime alone reads',
  },
  {
    name: 'rejects a volume of the provider key Secret',
    manifest: agent(
      container(),
      withVolumes([{ name: 'keys', secret: { secretName: 'llm-provider-key' } }]),
    ),
    field: 'spec.podTemplate.volumes',
    says: 'may not hold a Secret the runtime alone reads',
  },
  {
    name: 'rejects a volume with two sources',
    manifest: agent(
      container(),
      withVolumes([{ name: 'code', configMap: { name: 'code' }, emptyDir: {} }]),
    ),
    field: 'spec.podTemplate.volumes[0]',
    says: 'set exactly one of configMap, secret, emptyDir',
  },
  {
    name: "rejects a volume named like one of the operator's",
    manifest: agent(container(), withVolumes([{ name: 'mcp-github', emptyDir: {} }])),
    field: 'spec.podTemplate.volumes[0].name',
    says: "name the operator's volumes",
  },
  {
    name: 'rejects a probe with two handlers',
    manifest: agent(
      container({
        readinessProbe: { httpGet: { port: 'web' }, tcpSocket: { port: 8000 } },
      }),
    ),
    field: 'spec.agent.readinessProbe',
    says: 'set exactly one of httpGet, tcpSocket, exec, grpc',
  },
  {
    name: 'rejects an env source with two kinds of reference',
    manifest: agent(
      container({ envFrom: [{ configMapRef: { name: 'a' }, secretRef: { name: 'b' } }] }),
    ),
    field: 'spec.agent.envFrom[0]',
    says: 'set configMapRef or secretRef, exactly one',
  },
  {
    name: 'rejects a securityContext field the restricted profile has no use for',
    manifest: agent(container({ securityContext: { privileged: true } })),
    field: 'spec.agent.securityContext.privileged',
    says: 'unknown field',
  },
  {
    name: 'rejects envFrom of the client-keys Secret',
    manifest: agent(container({ envFrom: [{ secretRef: { name: 'client-keys' } }] }), {
      access: { clientKeysSecretRef: { name: 'client-keys' } },
    }),
    field: 'spec.agent',
    says: 'may not read a Secret the runtime alone reads',
  },
  {
    name: "rejects an env variable read from an MCP server's headers Secret",
    manifest: agent(
      container({
        env: [
          {
            name: 'GITHUB',
            valueFrom: { secretKeyRef: { name: 'github-headers', key: 'authorization' } },
          },
        ],
      }),
      {
        mcpServers: [
          {
            name: 'github',
            url: 'http://github-mcp.tools.svc:8080/mcp',
            headersSecretRef: { name: 'github-headers' },
          },
        ],
      },
    ),
    field: 'spec.agent',
    says: 'may not read a Secret the runtime alone reads',
  },
  {
    name: "rejects a volume of the journal's key Secret",
    manifest: agent(container(), {
      ...withVolumes([{ name: 'journal', secret: { secretName: 'journal-key' } }]),
      durability: {
        store: { redis: { address: 'redis.agents.svc:6379' } },
        encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      },
    }),
    field: 'spec.podTemplate.volumes',
    says: 'may not hold a Secret the runtime alone reads',
  },
  {
    name: "rejects an env variable read from the journal store's sentinels' password Secret",
    manifest: agent(
      container({
        env: [
          {
            name: 'SENTINEL_PASSWORD',
            valueFrom: { secretKeyRef: { name: 'sentinel-auth', key: 'password' } },
          },
        ],
      }),
      {
        durability: {
          store: {
            redis: {
              sentinel: {
                masterName: 'journal',
                addresses: ['sentinel.agents.svc:26379'],
                passwordSecretRef: { name: 'sentinel-auth', key: 'password' },
              },
            },
          },
          encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
        },
      },
    ),
    field: 'spec.agent',
    says: 'may not read a Secret the runtime alone reads',
  },
  {
    name: "rejects a volume named like durability's, which the runtime's journal files use",
    manifest: agent(container(), withVolumes([{ name: 'durability-store-auth', emptyDir: {} }])),
    field: 'spec.podTemplate.volumes[0].name',
    says: "name the operator's volumes",
  },
  {
    name: 'rejects a probe port that names none of the agent ports',
    manifest: agent(container({ readinessProbe: { httpGet: { path: '/', port: 'nope' } } })),
    field: 'spec.agent.readinessProbe',
    says: "readinessProbe's port must be a number from 1 to 65535 or the name of one of spec.agent.ports",
  },
  {
    name: 'rejects a probe port above 65535',
    manifest: agent(container({ livenessProbe: { tcpSocket: { port: 70000 } } })),
    field: 'spec.agent.livenessProbe',
    says: "livenessProbe's port must be a number from 1 to 65535",
  },
  {
    name: 'rejects running the agent as root while runAsNonRoot holds',
    manifest: agent(container({ securityContext: { runAsUser: 0 } })),
    field: 'spec.agent.securityContext.runAsUser',
    says: 'runAsUser 0 is root',
  },
];

/** An agent whose container reads a Secret its RateLimitPolicy's store uses as a password. */
export interface StoreSecretRow extends Refusal {
  /** The policy the agent uses, which names the Secret: admission sees one object at a time. */
  readonly policy: Manifest;
}

const storePolicy = (redis: Spec): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'RateLimitPolicy',
  metadata: { name: 'shared-store' },
  spec: { scope: 'Cluster', requests: { perSecond: 10, burst: 20 }, store: { redis } },
});

const usesStore = { rateLimitPolicyRef: { name: 'shared-store' } };

/**
 * Admission takes each object of these alone; the gather step refuses the pair (`--manifests`
 * refuses the agent, the operator rolls nothing out): runtime/src/policy/manifestAdmission.test.ts.
 */
export const storeSecretRows: readonly StoreSecretRow[] = [
  {
    name: "rejects an env variable read from the store's password Secret",
    manifest: agent(
      container({
        env: [
          { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'p' } } },
        ],
      }),
      usesStore,
    ),
    policy: storePolicy({
      address: 'redis:6379',
      passwordSecretRef: { name: 'redis-auth', key: 'p' },
    }),
    field: 'spec.agent.env[0].valueFrom.secretKeyRef',
    says: 'RateLimitPolicy shared-store spec.store.redis.passwordSecretRef',
  },
  {
    name: "rejects envFrom of the store's password Secret",
    manifest: agent(container({ envFrom: [{ secretRef: { name: 'redis-auth' } }] }), usesStore),
    policy: storePolicy({
      address: 'redis:6379',
      passwordSecretRef: { name: 'redis-auth', key: 'p' },
    }),
    field: 'spec.agent.envFrom[0].secretRef',
    says: 'RateLimitPolicy shared-store spec.store.redis.passwordSecretRef',
  },
  {
    name: "rejects a volume of the store's sentinels' password Secret",
    manifest: agent(container(), {
      ...usesStore,
      ...withVolumes([{ name: 'auth', secret: { secretName: 'sentinel-auth' } }]),
    }),
    policy: storePolicy({
      sentinel: {
        masterName: 'budgets',
        addresses: ['sentinel:26379'],
        passwordSecretRef: { name: 'sentinel-auth', key: 'p' },
      },
    }),
    field: 'spec.podTemplate.volumes[0].secret',
    says: 'RateLimitPolicy shared-store spec.store.redis.sentinel.passwordSecretRef',
  },
];

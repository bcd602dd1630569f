import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, RateLimitPolicy } from '../api/resources.ts';
import { GROUP_VERSION } from '../api/resources.ts';
import { FALLBACK_MODEL } from '../api/sampleModels.ts';
import { gatherAgentInputs, type ObjectLookup } from './policyGather.ts';
import { storeSecretReads } from './storeSecretReads.ts';

type AgentSpec = AgentDeployment['spec'];
type Store = NonNullable<RateLimitPolicy['spec']['store']>;

const agent = (more: Partial<AgentSpec>): AgentDeployment => ({
  apiVersion: GROUP_VERSION,
  kind: 'AgentDeployment',
  metadata: { name: 'team', namespace: 'default' },
  spec: {
    model: { name: FALLBACK_MODEL },
    provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
    rateLimitPolicyRef: { name: 'shared' },
    agent: { image: 'registry.example.com/team/agent:1.0.0' },
    ...more,
  },
});

const container = (fields: Partial<NonNullable<AgentSpec['agent']>>): Partial<AgentSpec> => ({
  agent: { image: 'registry.example.com/team/agent:1.0.0', ...fields },
});

const policy = (redis: Store['redis']): RateLimitPolicy => ({
  apiVersion: GROUP_VERSION,
  kind: 'RateLimitPolicy',
  metadata: { name: 'shared', namespace: 'default' },
  spec: { scope: 'Cluster', store: { redis } },
});

const atAddress = policy({
  address: 'redis:6379',
  passwordSecretRef: { name: 'redis-auth', key: 'password' },
  tls: { caSecretRef: { name: 'redis-ca', key: 'ca.crt' } },
});
const behindSentinels = policy({
  sentinel: {
    masterName: 'budgets',
    addresses: ['sentinel:26379'],
    passwordSecretRef: { name: 'sentinel-auth', key: 'password' },
  },
  passwordSecretRef: { name: 'redis-auth', key: 'password' },
});

const withoutStore: RateLimitPolicy = { ...atAddress, spec: { scope: 'Cluster' } };

const envFrom = (secret: string) => ({
  name: 'TOKEN',
  valueFrom: { secretKeyRef: { name: secret, key: 'password' } },
});

describe('storeSecretReads', () => {
  it.each([
    {
      name: 'an env variable read from the store password Secret',
      agent: agent(container({ env: [{ name: 'A', value: 'a' }, envFrom('redis-auth')] })),
      policy: atAddress,
      fields: ['spec.agent.env[1].valueFrom.secretKeyRef: Forbidden: Secret redis-auth'],
    },
    {
      name: 'envFrom of the store password Secret',
      agent: agent(container({ envFrom: [{ secretRef: { name: 'redis-auth' } }] })),
      policy: atAddress,
      fields: ['spec.agent.envFrom[0].secretRef: Forbidden: Secret redis-auth'],
    },
    {
      name: "a volume of the sentinels' password Secret",
      agent: agent({
        podTemplate: {
          volumes: [
            { name: 'code', configMap: { name: 'code' } },
            { name: 'auth', secret: { secretName: 'sentinel-auth' } },
          ],
        },
      }),
      policy: behindSentinels,
      fields: ['spec.podTemplate.volumes[1].secret: Forbidden: Secret sentinel-auth'],
    },
    {
      name: "every field that reads one, the servers' and the sentinels'",
      agent: agent({
        ...container({
          env: [envFrom('sentinel-auth')],
          envFrom: [{ secretRef: { name: 'redis-auth' } }],
        }),
      }),
      policy: behindSentinels,
      fields: [
        'spec.agent.env[0].valueFrom.secretKeyRef: Forbidden: Secret sentinel-auth',
        'spec.agent.envFrom[0].secretRef: Forbidden: Secret redis-auth',
      ],
    },
  ])('refuses $name', ({ agent: a, policy: p, fields }) => {
    const lines = storeSecretReads(a, p);
    expect(lines.map((l) => l.slice(0, l.indexOf(' holds')))).toEqual(fields);
  });

  it("names the policy's field and the fix", () => {
    const [line] = storeSecretReads(
      agent(container({ env: [envFrom('sentinel-auth')] })),
      behindSentinels,
    );
    expect(line).toContain('RateLimitPolicy shared spec.store.redis.sentinel.passwordSecretRef');
    expect(line).toContain('only the runtime reads');
    expect(line).toContain('Give the agent container credentials of its own');
  });

  it.each([
    {
      name: 'a Secret of its own',
      agent: agent(container({ env: [envFrom('team-token')] })),
      policy: atAddress,
    },
    {
      name: "the store's CA certificate, which is not secret",
      agent: agent({
        podTemplate: { volumes: [{ name: 'ca', secret: { secretName: 'redis-ca' } }] },
      }),
      policy: atAddress,
    },
    {
      name: 'any Secret when the policy has no store',
      agent: agent(container({ env: [envFrom('redis-auth')] })),
      policy: withoutStore,
    },
    {
      name: 'any Secret without a policy',
      agent: agent(container({ env: [envFrom('redis-auth')] })),
      policy: undefined,
    },
  ])('lets the agent read $name', ({ agent: a, policy: p }) => {
    expect(storeSecretReads(a, p)).toEqual([]);
  });
});

describe('gatherAgentInputs', () => {
  const lookupOf =
    (p: RateLimitPolicy): ObjectLookup =>
    (kind, name) =>
      (kind === 'RateLimitPolicy' && name === p.metadata.name ? p : undefined) as never;

  it('lists what the agent may not read, with the policy it gathered', async () => {
    const gathered = await gatherAgentInputs(
      agent(container({ envFrom: [{ secretRef: { name: 'redis-auth' } }] })),
      lookupOf(atAddress),
    );
    expect(gathered.forbidden).toEqual([
      expect.stringMatching(/^spec\.agent\.envFrom\[0\]\.secretRef: Forbidden: Secret redis-auth/),
    ]);
  });

  it('lists nothing while the policy does not exist yet', async () => {
    const gathered = await gatherAgentInputs(
      agent(container({ envFrom: [{ secretRef: { name: 'redis-auth' } }] })),
      () => undefined,
    );
    expect(gathered.forbidden).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { FALLBACK_MODEL } from '../../../contract/src/api/sampleModels.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import {
  POLICY_CONFIGMAP_KEY,
  POLICY_HASH_ANNOTATION,
  policyHash,
  type PolicyDocument,
} from '../../../contract/src/policy/policyDocument.ts';
import {
  agentWith,
  developmentAgent,
  documentFor,
  minimalAgent,
  ownContainerAgent,
  productionAgent,
  productionPolicies,
  testOptions,
} from './builderFixtures.ts';
import type { BuilderOptions } from './builderOptions.ts';
import { buildChildren, type ChildObjects } from './childObjects.ts';
import { backendCredentialsVolumeName, type Deployment } from './deployment.ts';
import type { HorizontalPodAutoscaler } from './horizontalPodAutoscaler.ts';
import type { NetworkPolicy } from './networkPolicy.ts';
import type { ConfigMap } from './policyConfigMap.ts';
import type { Role, RoleBinding } from './rbac.ts';
import type { ServiceAccount } from './serviceAccount.ts';
import { DEFAULT_TERMINATION_DRAIN_DURATION } from './shutdownTiming.ts';

const goldenDir = new URL('./testdata/', import.meta.url);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Builds from deep-frozen copies of the inputs, so any mutation of them throws. */
function build(
  agent: AgentDeployment,
  doc: PolicyDocument = documentFor(agent),
  options: BuilderOptions = testOptions,
): ChildObjects {
  return buildChildren(
    deepFreeze(structuredClone(agent)),
    deepFreeze(structuredClone(doc)),
    deepFreeze({ ...options }),
  );
}

interface ChildrenByKind {
  ConfigMap: ConfigMap;
  ServiceAccount: ServiceAccount;
  Role: Role;
  RoleBinding: RoleBinding;
  Deployment: Deployment;
  HorizontalPodAutoscaler: HorizontalPodAutoscaler;
  NetworkPolicy: NetworkPolicy;
}

function required<Kind extends keyof ChildrenByKind>(
  children: ChildObjects,
  kind: Kind,
): ChildrenByKind[Kind] {
  const object = children.apply.find((candidate) => candidate.kind === kind);
  if (object === undefined) throw new Error(`no ${kind} among the children`);
  return object as ChildrenByKind[Kind];
}

function anyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  return Object.isFrozen(value) || Object.values(value).some(anyFrozen);
}

describe('buildChildren golden files', () => {
  it.each([
    { name: 'development', agent: developmentAgent, policies: {} },
    { name: 'production', agent: productionAgent, policies: productionPolicies() },
    { name: 'minimal', agent: minimalAgent, policies: {} },
    { name: 'own-container', agent: ownContainerAgent, policies: {} },
  ])('builds the $name agent as its golden file', ({ name, agent, policies }) => {
    const input = agent();
    const children = build(input, documentFor(input, { ...policies, readyReplicas: 3 }));
    const actual = stringify(children, { lineWidth: 0 });
    const file = new URL(`${name}.golden.yaml`, goldenDir);
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, actual);
    expect(parse(actual)).toEqual(parse(readFileSync(file, 'utf8')));
  });
});

describe('buildChildren', () => {
  it('returns plain JSON that shares nothing with its frozen inputs', () => {
    const children = build(productionAgent());
    expect(JSON.parse(JSON.stringify(children))).toStrictEqual(children);
    expect(anyFrozen(children)).toBe(false);
  });

  it('builds the same objects every time', () => {
    expect(build(productionAgent())).toEqual(build(productionAgent()));
  });

  it('sets apiVersion, kind, namespace, common labels and a controller owner on every child', () => {
    const known = new Map<string, string>(
      Object.values(Kinds).map((kind) => [kind.kind, kind.apiVersion]),
    );
    for (const object of build(productionAgent()).apply) {
      expect(object.apiVersion).toBe(known.get(object.kind ?? ''));
      expect(object.metadata?.namespace).toBe('agents');
      expect(object.metadata?.labels).toMatchObject({
        'app.kubernetes.io/name': 'breakwater-agent',
        'app.kubernetes.io/instance': 'support-agent',
        'app.kubernetes.io/managed-by': 'breakwater',
        'breakwater.dev/agent': 'support-agent',
      });
      expect(object.metadata?.ownerReferences).toEqual([
        {
          apiVersion: 'breakwater.dev/v1alpha1',
          kind: 'AgentDeployment',
          name: 'support-agent',
          uid: 'uid-of-support-agent',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it('refuses an agent without a uid, naming the field', () => {
    const agent = minimalAgent();
    delete agent.metadata.uid;
    expect(() => build(agent)).toThrow('metadata.uid');
  });
});

describe('the policy ConfigMap', () => {
  it('holds the canonical policy.json and its hash', () => {
    const agent = developmentAgent();
    const doc = documentFor(agent);
    const configMap = required(build(agent, doc), 'ConfigMap');
    expect(configMap.metadata.name).toBe('support-agent-dev-policy');
    const json = configMap.data[POLICY_CONFIGMAP_KEY] ?? '';
    expect(JSON.parse(json)).toEqual(doc);
    expect(configMap.metadata.annotations?.[POLICY_HASH_ANNOTATION]).toBe(policyHash(doc));
  });

  it('never puts the policy hash into the pod template', () => {
    const agent = productionAgent();
    agent.spec.podTemplate = { annotations: { [POLICY_HASH_ANNOTATION]: 'stale' } };
    const before = build(agent, documentFor(agent, { readyReplicas: 3 }));
    const after = build(agent, documentFor(agent, { ...productionPolicies(), readyReplicas: 4 }));
    const deployment = required(after, 'Deployment');
    expect(deployment.spec.template.metadata?.annotations).toBeUndefined();
    expect(JSON.stringify(deployment)).not.toContain(POLICY_HASH_ANNOTATION);
    // A policy edit changes the ConfigMap and leaves the Deployment alone.
    expect(required(after, 'ConfigMap')).not.toEqual(required(before, 'ConfigMap'));
    expect(deployment).toEqual(required(before, 'Deployment'));
  });
});

describe('the runtime RBAC', () => {
  it('grants the runtime nothing beyond its own ConfigMap, its own agent and pod patching', () => {
    expect(required(build(minimalAgent()), 'Role').rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['minimal-agent-policy'],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: ['breakwater.dev'],
        resources: ['agentdeployments'],
        resourceNames: ['minimal-agent'],
        verbs: ['get'],
      },
      { apiGroups: [''], resources: ['pods'], verbs: ['patch'] },
    ]);
  });

  it('grants no Secret even with access control on: the kubelet mounts the client keys', () => {
    const rules = required(build(productionAgent()), 'Role').rules;
    expect(rules.map((rule) => rule.resources)).toEqual([
      ['configmaps'],
      ['agentdeployments'],
      ['pods'],
    ]);
  });

  it('binds the Role to the ServiceAccount the pods run as, named so admission knows a runtime', () => {
    const children = build(developmentAgent());
    const account = 'breakwater-runtime-support-agent-dev';
    expect(required(children, 'ServiceAccount').metadata.name).toBe(account);
    const deployment = required(children, 'Deployment');
    expect(deployment.spec.template.spec?.serviceAccountName).toBe(account);
    expect(required(children, 'RoleBinding')).toMatchObject({
      roleRef: { kind: 'Role', name: 'support-agent-dev' },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: 'development' }],
    });
  });
});

describe('the Deployment', () => {
  const deploymentOf = (agent: AgentDeployment, doc?: PolicyDocument): Deployment =>
    required(build(agent, doc), 'Deployment');
  const runtimeOf = (agent: AgentDeployment) => {
    const container = deploymentOf(agent).spec.template.spec?.containers[0];
    if (container === undefined) throw new Error('no runtime container');
    return container;
  };

  it('omits replicas when autoscaling is on', () => {
    expect(deploymentOf(productionAgent()).spec).not.toHaveProperty('replicas');
    expect(deploymentOf(minimalAgent()).spec.replicas).toBe(1);
    const three = minimalAgent();
    three.spec.replicas = 3;
    expect(deploymentOf(three).spec.replicas).toBe(3);
  });

  it('keeps the selector labels on pods whatever podTemplate.labels says', () => {
    const agent = minimalAgent();
    agent.spec.podTemplate = { labels: { 'breakwater.dev/agent': 'someone-else', extra: 'yes' } };
    const deployment = deploymentOf(agent);
    expect(deployment.spec.selector.matchLabels).toEqual({
      'breakwater.dev/agent': 'minimal-agent',
    });
    expect(deployment.spec.template.metadata?.labels).toMatchObject({
      'breakwater.dev/agent': 'minimal-agent',
      extra: 'yes',
    });
  });

  it('mounts the client-keys Secret read-only where the runtime looks, only with access control', () => {
    const production = deploymentOf(productionAgent()).spec.template.spec;
    expect(production?.volumes).toEqual([
      { name: 'client-keys', secret: { secretName: 'support-agent-clients', optional: true } },
    ]);
    expect(runtimeOf(productionAgent())).toMatchObject({
      volumeMounts: [
        {
          name: 'client-keys',
          mountPath: '/var/run/secrets/breakwater.dev/client-keys',
          readOnly: true,
        },
      ],
      env: expect.arrayContaining([
        {
          name: 'BREAKWATER_CLIENT_KEYS_DIR',
          value: '/var/run/secrets/breakwater.dev/client-keys',
        },
      ]),
    });
    expect(deploymentOf(minimalAgent()).spec.template.spec).not.toHaveProperty('volumes');
    expect(runtimeOf(minimalAgent())).not.toHaveProperty('volumeMounts');
    expect(runtimeOf(minimalAgent()).env?.map((env) => env.name)).not.toContain(
      'BREAKWATER_CLIENT_KEYS_DIR',
    );
  });

  it('mounts the rate-limit store password and CA as files, from their Secrets, only with a store', () => {
    const agent = productionAgent();
    const { rateLimitPolicy } = productionPolicies();
    rateLimitPolicy.spec.store = {
      redis: {
        address: 'redis.infra.svc:6379',
        passwordSecretRef: { name: 'redis-auth', key: 'redis-password' },
        tls: { enabled: true, caSecretRef: { name: 'redis-ca', key: 'ca.pem' } },
      },
    };
    const doc = documentFor(agent, { rateLimitPolicy, readyReplicas: 2 });
    const pod = deploymentOf(agent, doc).spec.template.spec;
    expect(pod?.volumes).toEqual(
      expect.arrayContaining([
        {
          name: 'rate-limit-store-auth',
          secret: {
            secretName: 'redis-auth',
            items: [{ key: 'redis-password', path: 'password' }],
            optional: true,
          },
        },
        {
          name: 'rate-limit-store-tls',
          secret: {
            secretName: 'redis-ca',
            items: [{ key: 'ca.pem', path: 'ca.crt' }],
            optional: true,
          },
        },
      ]),
    );
    expect(pod?.containers[0]?.volumeMounts).toEqual(
      expect.arrayContaining([
        {
          name: 'rate-limit-store-auth',
          mountPath: '/var/run/secrets/breakwater.dev/rate-limit-store/auth',
          readOnly: true,
        },
        {
          name: 'rate-limit-store-tls',
          mountPath: '/var/run/secrets/breakwater.dev/rate-limit-store/tls',
          readOnly: true,
        },
      ]),
    );
    expect(pod?.containers[0]?.env).toEqual(
      expect.arrayContaining([
        {
          name: 'BREAKWATER_RATE_LIMIT_STORE_PASSWORD_FILE',
          value: '/var/run/secrets/breakwater.dev/rate-limit-store/auth/password',
        },
        {
          name: 'BREAKWATER_RATE_LIMIT_STORE_CA_FILE',
          value: '/var/run/secrets/breakwater.dev/rate-limit-store/tls/ca.crt',
        },
      ]),
    );
    expect(JSON.stringify(deploymentOf(productionAgent()))).not.toContain('rate-limit-store');
  });

  it("mounts the sentinels' own password beside the store's, from its Secret", () => {
    const agent = productionAgent();
    const { rateLimitPolicy } = productionPolicies();
    rateLimitPolicy.spec.store = {
      redis: {
        sentinel: {
          masterName: 'breakwater',
          addresses: ['sentinel.infra.svc:26379'],
          passwordSecretRef: { name: 'sentinel-auth', key: 'password' },
        },
        passwordSecretRef: { name: 'redis-auth', key: 'redis-password' },
      },
    };
    const doc = documentFor(agent, { rateLimitPolicy, readyReplicas: 2 });
    const pod = deploymentOf(agent, doc).spec.template.spec;
    expect(pod?.volumes?.filter((v) => v.name.startsWith('rate-limit-store'))).toEqual([
      {
        name: 'rate-limit-store-auth',
        secret: {
          secretName: 'redis-auth',
          items: [{ key: 'redis-password', path: 'password' }],
          optional: true,
        },
      },
      {
        name: 'rate-limit-store-sentinel-auth',
        secret: {
          secretName: 'sentinel-auth',
          items: [{ key: 'password', path: 'password' }],
          optional: true,
        },
      },
    ]);
    expect(pod?.containers[0]?.volumeMounts).toEqual(
      expect.arrayContaining([
        {
          name: 'rate-limit-store-sentinel-auth',
          mountPath: '/var/run/secrets/breakwater.dev/rate-limit-store/sentinel-auth',
          readOnly: true,
        },
      ]),
    );
    expect(pod?.containers[0]?.env).toEqual(
      expect.arrayContaining([
        {
          name: 'BREAKWATER_RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE',
          value: '/var/run/secrets/breakwater.dev/rate-limit-store/sentinel-auth/password',
        },
      ]),
    );
  });

  it('mounts each cloud backend credentials Secret read-only under its own name, in the runtime container only', () => {
    const agent = agentWith({
      ...minimalAgent().spec,
      backends: [
        { name: 'anthropic', baseURL: 'https://api.anthropic.com' },
        {
          name: 'bedrock-us',
          type: 'Bedrock',
          region: 'us-east-1',
          credentialsSecretRef: { name: 'aws-keys' },
          models: { [FALLBACK_MODEL]: `us.anthropic.${FALLBACK_MODEL}-v1:0` },
        },
        {
          name: 'vertex',
          type: 'Vertex',
          region: 'us-east5',
          projectID: 'my-project',
          credentialsSecretRef: { name: 'gcp-sa' },
          models: { [FALLBACK_MODEL]: FALLBACK_MODEL },
        },
        // The cloud's default credentials (IRSA, Pod Identity): nothing to mount.
        {
          name: 'bedrock-eu',
          type: 'Bedrock',
          region: 'eu-west-1',
          models: { [FALLBACK_MODEL]: `eu.anthropic.${FALLBACK_MODEL}-v1:0` },
        },
      ],
    });
    const pod = deploymentOf(agent).spec.template.spec;
    expect(pod?.volumes).toEqual([
      { name: 'backend-bedrock-us', secret: { secretName: 'aws-keys', optional: true } },
      { name: 'backend-vertex', secret: { secretName: 'gcp-sa', optional: true } },
    ]);
    expect(pod?.containers).toHaveLength(1);
    expect(runtimeOf(agent).volumeMounts).toEqual([
      {
        name: 'backend-bedrock-us',
        mountPath: '/var/run/secrets/breakwater.dev/backends/bedrock-us',
        readOnly: true,
      },
      {
        name: 'backend-vertex',
        mountPath: '/var/run/secrets/breakwater.dev/backends/vertex',
        readOnly: true,
      },
    ]);
    // Credentials travel as files only, never as environment variables.
    expect(JSON.stringify(runtimeOf(agent).env)).not.toMatch(/aws-keys|gcp-sa/);
  });

  it('keeps a cloud backend volume when another backend is removed before it', () => {
    const cloud = {
      name: 'bedrock-us',
      type: 'Bedrock' as const,
      region: 'us-east-1',
      credentialsSecretRef: { name: 'aws-keys' },
      models: { [FALLBACK_MODEL]: FALLBACK_MODEL },
    };
    const spec = minimalAgent().spec;
    const before = agentWith({
      ...spec,
      backends: [{ name: 'anthropic', baseURL: 'https://api.anthropic.com' }, cloud],
    });
    const after = agentWith({ ...spec, backends: [cloud] });
    expect(deploymentOf(after).spec.template).toEqual(deploymentOf(before).spec.template);
  });

  it.each([
    ['a short name', 'bedrock-us', 'backend-bedrock-us'],
    ['the longest name that fits whole', 'b'.repeat(55), `backend-${'b'.repeat(55)}`],
  ])('names the credentials volume for %s after the backend', (_case, backend, volume) => {
    expect(backendCredentialsVolumeName(backend)).toBe(volume);
  });

  it('keeps a long backend name unique and within a DNS label in its volume name', () => {
    const a = backendCredentialsVolumeName(`${'a'.repeat(62)}1`);
    const b = backendCredentialsVolumeName(`${'a'.repeat(62)}2`);
    for (const name of [a, b]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    expect(a).not.toBe(b);
  });

  it('sets every backend key the policy document names, from its Secret', () => {
    const agent = productionAgent();
    const env = runtimeOf(agent).env ?? [];
    for (const backend of documentFor(agent).backends) {
      if (backend.type !== undefined && backend.type !== 'Anthropic') continue;
      expect(
        env.find((entry) => entry.name === backend.apiKeyEnv)?.valueFrom?.secretKeyRef,
      ).toBeDefined();
    }
    expect(env.find((entry) => entry.name === 'BREAKWATER_BACKEND_0_API_KEY')?.valueFrom).toEqual({
      secretKeyRef: { name: 'anthropic-primary', key: 'api-key' },
    });
  });

  it('lets spec.env replace defaults but not the identity, ports or keys the runtime depends on', () => {
    const agent = minimalAgent();
    agent.spec.env = [
      { name: 'PORT_HTTP', value: '1' },
      { name: 'ANTHROPIC_API_KEY', value: 'leaked' },
      { name: 'OTEL_METRICS_EXPORTER', value: 'otlp' },
    ];
    const env = runtimeOf(agent).env ?? [];
    const names = env.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect(env.find((entry) => entry.name === 'PORT_HTTP')?.value).toBe('8080');
    expect(env.find((entry) => entry.name === 'ANTHROPIC_API_KEY')?.value).toBeUndefined();
    expect(env.find((entry) => entry.name === 'OTEL_METRICS_EXPORTER')?.value).toBe('otlp');
  });

  it('runs the spec image when set and the operator runtime image otherwise', () => {
    const agent = minimalAgent();
    expect(runtimeOf(agent).image).toBe(testOptions.runtimeImage);
    agent.spec.image = 'registry.example.com/breakwater:dev';
    expect(runtimeOf(agent).image).toBe('registry.example.com/breakwater:dev');
  });

  it.each<{ name: string; spec: Partial<AgentDeployment['spec']>; args: string[]; grace: number }>([
    {
      name: 'covers the drain delay, three 30 s attempts with backoff, and the exit',
      spec: {},
      args: ['--drain-delay-ms=5000', '--shutdown-grace-ms=92000'],
      grace: 99,
    },
    {
      name: 'counts each fallback model as another round of attempts',
      spec: { model: { name: 'm', fallbacks: ['f'] }, timeout: '10s', retry: { maxAttempts: 1 } },
      args: ['--drain-delay-ms=5000', '--shutdown-grace-ms=20000'],
      grace: 27,
    },
    {
      name: 'adds the whole of a stream when maxStreamDuration bounds it',
      spec: { timeout: '10s', retry: { maxAttempts: 1 }, maxStreamDuration: '2m' },
      args: ['--drain-delay-ms=5000', '--shutdown-grace-ms=130000'],
      grace: 137,
    },
    {
      name: 'refuses at once with a zero drain',
      spec: { terminationDrainDuration: '0s', timeout: '10s', retry: { maxAttempts: 1 } },
      args: ['--drain-delay-ms=0', '--shutdown-grace-ms=10000'],
      grace: 12,
    },
    {
      name: 'keeps a grace period the agent sets, and gives calls what the drain leaves',
      spec: { terminationGracePeriodSeconds: 20, terminationDrainDuration: '3s' },
      args: ['--drain-delay-ms=3000', '--shutdown-grace-ms=15000'],
      grace: 20,
    },
  ])('$name', ({ spec, args, grace }) => {
    const agent = minimalAgent();
    agent.spec = { ...agent.spec, ...spec };
    expect(runtimeOf(agent).args?.slice(-2)).toEqual(args);
    expect(deploymentOf(agent).spec.template.spec?.terminationGracePeriodSeconds).toBe(grace);
  });

  it("defaults the drain delay to the schema's", () => {
    const schema = JSON.parse(
      readFileSync(
        new URL('../../../crds/schemas/agentdeployment.schema.json', import.meta.url),
        'utf8',
      ),
    ) as { properties: { spec: { properties: Record<string, { default?: unknown }> } } };
    expect(schema.properties.spec.properties['terminationDrainDuration']?.default).toBe(
      DEFAULT_TERMINATION_DRAIN_DURATION,
    );
  });

  it('uses spec.resources instead of the defaults, never a mix of both', () => {
    expect(runtimeOf(minimalAgent()).resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    const agent = minimalAgent();
    agent.spec.resources = { requests: { cpu: 1, memory: '2Gi' } };
    expect(runtimeOf(agent).resources).toEqual({ requests: { cpu: '1', memory: '2Gi' } });
  });
});

describe('optional children', () => {
  const kindsOf = (children: ChildObjects) => children.apply.map((object) => object.kind);
  const deletedKinds = (children: ChildObjects) => children.delete.map((ref) => ref.kind);

  it('builds the always-present children for a minimal agent and deletes every optional one', () => {
    const children = build(minimalAgent());
    expect(kindsOf(children)).toEqual([
      'ConfigMap',
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'Deployment',
      'Service',
    ]);
    expect(children.delete).toEqual([
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'minimal-agent' },
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name: 'minimal-agent' },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name: 'minimal-agent' },
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', name: 'minimal-agent' },
    ]);
  });

  it.each([
    { name: 'one replica', scale: { replicas: 1 }, pdb: false },
    { name: 'three replicas', scale: { replicas: 3 }, pdb: true },
    { name: 'no replica count (one)', scale: {}, pdb: false },
    { name: 'autoscaling from one', scale: { autoscaling: { maxReplicas: 5 } }, pdb: false },
    {
      name: 'autoscaling from two',
      scale: { autoscaling: { minReplicas: 2, maxReplicas: 5 } },
      pdb: true,
    },
  ])('adds a PDB only for more than one replica: $name', ({ scale, pdb }) => {
    const agent = agentWith({ ...minimalAgent().spec, ...scale });
    const children = build(agent);
    expect(kindsOf(children).includes('PodDisruptionBudget')).toBe(pdb);
    expect(deletedKinds(children).includes('PodDisruptionBudget')).toBe(!pdb);
  });

  it('targets CPU at 80% when autoscaling names no metric', () => {
    const agent = agentWith({ ...minimalAgent().spec, autoscaling: { maxReplicas: 4 } });
    const hpa = required(build(agent), 'HorizontalPodAutoscaler');
    expect(hpa.spec.metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
      },
    ]);
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'support-agent',
    });
  });

  it('lets only same-namespace pods call the agent when allowFrom is empty, and anyone scrape it', () => {
    const agent = agentWith({
      ...minimalAgent().spec,
      access: { networkPolicy: { enabled: true } },
    });
    const policy = required(build(agent), 'NetworkPolicy');
    expect(policy.spec.ingress).toEqual([
      { from: [{ podSelector: {} }], ports: [{ port: 'http', protocol: 'TCP' }] },
      { ports: [{ port: 'metrics', protocol: 'TCP' }] },
    ]);
  });

  it('builds a ServiceMonitor only when asked for and the CRD exists, and never deletes one without the CRD', () => {
    const agent = productionAgent();
    expect(kindsOf(build(agent))).toContain('ServiceMonitor');
    const withoutCrd = build(agent, documentFor(agent), {
      ...testOptions,
      serviceMonitorAvailable: false,
    });
    expect(kindsOf(withoutCrd)).not.toContain('ServiceMonitor');
    expect(deletedKinds(withoutCrd)).not.toContain('ServiceMonitor');
    const disabled = structuredClone(agent);
    disabled.spec.monitoring = { serviceMonitor: { enabled: false } };
    expect(deletedKinds(build(disabled))).toContain('ServiceMonitor');
  });
});

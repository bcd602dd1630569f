/**
 * The team's own agent container (`spec.agent`) and the volumes it mounts
 * (`spec.podTemplate.volumes`), as the real API server admits them: each invalid row is
 * created with kubectl and must be refused naming the field, a full valid manifest is admitted
 * with the schema's defaults filled in, and no way of handing the agent container a provider's
 * key or cloud credentials gets through.
 */
import { describe, expect, it } from '@jest/globals';
import { GROUP_VERSION } from '../../contract/src/api/group.ts';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import {
  admissionNamespace,
  expectRefusal,
  type Manifest,
  type Refusal,
  type Spec,
} from './admission.ts';

const container = (fields: Spec = {}): Spec => ({
  image: 'registry.example.com/team/agent:1.0.0',
  ports: [{ name: 'web', containerPort: 8000 }],
  ...fields,
});

const agent = (agentSpec: Spec, more: Spec = {}): Manifest => ({
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

const withVolumes = (volumes: readonly Spec[]): Spec => ({ podTemplate: { volumes } });

const rows: readonly Refusal[] = [
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
    says: 'may not read a Secret with a provider key or cloud credentials',
  },
  {
    name: 'rejects envFrom of a cloud backend credentials Secret',
    manifest: agent(container({ envFrom: [{ secretRef: { name: 'aws-keys' } }] })),
    field: 'spec.agent',
    says: 'may not read a Secret with a provider key or cloud credentials',
  },
  {
    name: 'rejects a volume of the provider key Secret',
    manifest: agent(
      container(),
      withVolumes([{ name: 'keys', secret: { secretName: 'llm-provider-key' } }]),
    ),
    field: 'spec.podTemplate.volumes',
    says: 'may not hold a Secret with a provider key or cloud credentials',
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
];

const { create, stored } = admissionNamespace('api-agent');

describe('spec.agent at admission', () => {
  it('admits an agent container with every field set, and fills in the restricted defaults', async () => {
    const result = await create(
      agent(
        container({
          command: ['python3', '/app/agent.py'],
          args: ['--port', '8000'],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'TEAM_TOKEN', valueFrom: { secretKeyRef: { name: 'team-token', key: 't' } } },
            { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
          ],
          envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'APP_' }],
          volumeMounts: [
            { name: 'code', mountPath: '/app' },
            { name: 'scratch', mountPath: '/tmp', readOnly: false },
          ],
          resources: { requests: { cpu: '50m', memory: '64Mi' } },
          livenessProbe: { tcpSocket: { port: 8000 }, periodSeconds: 10 },
          readinessProbe: { httpGet: { path: '/healthz', port: 'web' } },
          startupProbe: { exec: { command: ['true'] }, failureThreshold: 30 },
          securityContext: { runAsUser: 10001 },
        }),
        withVolumes([
          { name: 'code', configMap: { name: 'agent-code', defaultMode: 420 } },
          { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
          { name: 'team', secret: { secretName: 'team-token' } },
        ]),
      ),
      'own-agent',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { spec } = await stored<{ spec: { agent: Spec } }>('agd/own-agent');
    expect(spec.agent).toMatchObject({
      ports: [{ name: 'web', containerPort: 8000, protocol: 'TCP' }],
      volumeMounts: [
        { name: 'code', mountPath: '/app', readOnly: true },
        { name: 'scratch', mountPath: '/tmp', readOnly: false },
      ],
      securityContext: {
        runAsUser: 10001,
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
  });

  it.each(rows.map((row, index) => ({ ...row, index })))(
    '$name',
    async ({ manifest, field, says, index }) => {
      const result = await create(manifest, `invalid-${String(index)}`);
      expectRefusal(result, { field, says });
    },
  );
});

/**
 * The team's own agent container (`spec.agent`) and the volumes it mounts
 * (`spec.podTemplate.volumes`), as the real API server admits them: each invalid row is
 * created with kubectl and must be refused naming the field, a full valid manifest is admitted
 * with the schema's defaults filled in, and no way of handing the agent container a provider's
 * key, cloud credentials, client keys, MCP headers or the journal's key gets through.
 */
import { describe, expect, it } from '@jest/globals';
import { admissionNamespace, expectRefusal, type Spec } from './admission.ts';
import {
  agent,
  agentContainerRows as rows,
  container,
  storeSecretRows,
  withVolumes,
} from './agentContainerRows.ts';

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

  // Admission sees one object at a time: the pair is refused by the gather step instead
  // (the operator rolls nothing out, --manifests refuses it), not here.
  it.each(storeSecretRows.map((row, index) => ({ ...row, index })))(
    'admits each object alone, which the gather step refuses together: $name',
    async ({ manifest, policy, index }) => {
      const created = await create({ ...policy, metadata: {} }, `store-policy-${String(index)}`);
      expect(created.stderr).toBe('');
      const reading = await create(manifest, `store-reader-${String(index)}`);
      expect(reading.stderr).toBe('');
      expect(reading.code).toBe(0);
    },
  );

  it.each(rows.map((row, index) => ({ ...row, index })))(
    '$name',
    async ({ manifest, field, says, index }) => {
      const result = await create(manifest, `invalid-${String(index)}`);
      expectRefusal(result, { field, says });
    },
  );
});

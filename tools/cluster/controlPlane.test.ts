import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../../test/support/kube.ts';

interface VersionInfo {
  readonly serverVersion: { readonly gitVersion: string; readonly minor: string };
}

/** The Kubernetes release the wrapper module pins, `v1.36.3`. */
function pinnedKubernetesVersion(): string {
  const goMod = readFileSync(new URL('k8s-binaries/go.mod', import.meta.url), 'utf8');
  const match = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)/m.exec(goMod);
  if (match?.[1] === undefined) throw new Error('k8s.io/kubernetes is not pinned in go.mod');
  return match[1];
}

const onLocalCluster = process.env['BREAKWATER_LOCAL_CLUSTER'] === '1';

describe('the control plane', () => {
  let namespace: TestNamespace;

  beforeAll(async () => {
    namespace = await uniqueNamespace('control-plane');
  });

  afterAll(async () => {
    await namespace.cleanup();
  });

  it('answers kubectl through the kubeconfig', async () => {
    const { stdout } = await kubectl(['get', '--raw', '/readyz']);
    expect(stdout.trim()).toBe('ok');
  });

  it('runs Kubernetes 1.34 or newer', async () => {
    const { stdout } = await kubectl(['version', '-o', 'json']);
    const version = JSON.parse(stdout) as VersionInfo;
    expect(Number.parseInt(version.serverVersion.minor, 10)).toBeGreaterThanOrEqual(34);
  });

  (onLocalCluster ? it : it.skip)('runs the release pinned in k8s-binaries/go.mod', async () => {
    const { stdout } = await kubectl(['version', '-o', 'json']);
    const version = JSON.parse(stdout) as VersionInfo;
    const pinned = pinnedKubernetesVersion();
    expect(version.serverVersion.gitVersion).toBe(pinned);
    expect(pinned).toMatch(/^v1\.36\./);
  });

  it('creates a namespace that becomes Active', async () => {
    const { stdout } = await kubectl([
      'get',
      'namespace',
      namespace.name,
      '-o',
      'jsonpath={.status.phase}',
    ]);
    expect(stdout).toBe('Active');
  });

  it('round-trips a ConfigMap through server-side apply', async () => {
    const configMap = (value: string): string =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'round-trip', namespace: namespace.name },
        data: { 'policy.json': value },
      });
    const apply = (value: string) =>
      kubectl(['apply', '--server-side', '--field-manager=breakwater-test', '-f', '-'], {
        input: configMap(value),
      });

    await apply('{"hash":"a"}');
    await apply('{"hash":"b"}');
    const { stdout } = await kubectl([
      'get',
      'configmap',
      'round-trip',
      '-n',
      namespace.name,
      '-o',
      'json',
      '--show-managed-fields',
    ]);
    const stored = JSON.parse(stdout) as {
      data: Record<string, string>;
      metadata: { managedFields: { manager: string; operation: string }[] };
    };
    expect(stored.data).toEqual({ 'policy.json': '{"hash":"b"}' });
    expect(stored.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'breakwater-test', operation: 'Apply' }),
    );
  });

  it('mints service-account tokens through the TokenRequest API', async () => {
    const { stdout } = await kubectl(['create', 'token', 'default', '-n', namespace.name]);
    const payload = stdout.trim().split('.')[1] ?? '';
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      sub: string;
    };
    expect(claims.sub).toBe(`system:serviceaccount:${namespace.name}:default`);
  });

  it('rejects a custom resource that breaks a CEL validation rule, naming the field', async () => {
    const group = `${namespace.name}.breakwater.test`;
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    properties: { min: { type: 'integer' }, max: { type: 'integer' } },
                    'x-kubernetes-validations': [
                      {
                        rule: 'self.min <= self.max',
                        message: 'min must not exceed max',
                        fieldPath: '.min',
                      },
                    ],
                  },
                },
              },
            },
          },
        ],
      },
    };
    await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(crd) });
    try {
      await waitFor(
        async () => {
          const { stdout } = await kubectl(['get', 'crd', crd.metadata.name, '-o', 'json']);
          const conditions = (
            JSON.parse(stdout) as { status?: { conditions?: { type: string; status: string }[] } }
          ).status?.conditions;
          return conditions?.some((c) => c.type === 'Established' && c.status === 'True');
        },
        { timeoutMs: 30_000, description: `CRD ${crd.metadata.name} to be Established` },
      );
      const widget = (min: number, max: number): string =>
        JSON.stringify({
          apiVersion: `${group}/v1`,
          kind: 'Widget',
          metadata: { name: `w-${min}-${max}`, namespace: namespace.name },
          spec: { min, max },
        });
      await kubectl(['apply', '--server-side', '-f', '-'], { input: widget(1, 2) });
      const rejected = await kubectl(['apply', '--server-side', '-f', '-'], {
        input: widget(3, 2),
        allowFailure: true,
      });
      expect(rejected.code).not.toBe(0);
      expect(rejected.stderr).toContain('spec.min');
      expect(rejected.stderr).toContain('min must not exceed max');
    } finally {
      await kubectl(['delete', 'crd', crd.metadata.name, '--ignore-not-found', '--wait=false']);
    }
  });
});

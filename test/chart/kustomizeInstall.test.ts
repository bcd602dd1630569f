/**
 * config/default installed for real, the way a user adapts it: an overlay that moves it into a
 * throwaway namespace, suffixes the cluster-scoped names (the cluster is shared) and confines
 * the operator to that namespace with --namespace (so it leaves other suites' agents alone).
 * The operator comes up under Pod Security "restricted" (config/manager labels the namespace)
 * and brings the development sample agent up Ready.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { stringify } from 'yaml';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { installCrds } from '../api/apiInstallation.ts';
import { api, getAgent, isReadyAgent } from '../support/breakwaterCluster.ts';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { renderOverlay, repoRoot } from './chartTools.ts';

jest.setTimeout(180_000);

let ns: TestNamespace;
let suffix: string;
let clusterScoped: string[] = [];

/** What config/default installs outside any namespace (the CRDs aside, which suites share). */
const CLUSTER_SCOPED_KINDS = new Set([
  'ClusterRole',
  'ClusterRoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

interface DeploymentView extends KubeObject {
  status?: { availableReplicas?: number };
}

beforeAll(async () => {
  await installCrds();
  ns = await uniqueNamespace('kustomize-install');
  suffix = `-${ns.name.slice(-6)}`;
  const rendered = await renderOverlay(kubectl, 'config/default', {
    namespace: ns.name,
    nameSuffix: suffix,
    patches: [
      {
        target: { kind: 'Deployment', name: 'operator' },
        patch: stringify([
          {
            op: 'add',
            path: '/spec/template/spec/containers/0/args/-',
            value: `--namespace=${ns.name}`,
          },
        ]),
      },
    ],
  });
  // The suites share the CRDs, installed from crds/ by installCrds().
  const objects = rendered.filter((o) => o.kind !== 'CustomResourceDefinition');
  clusterScoped = objects
    .filter((o) => CLUSTER_SCOPED_KINDS.has(o.kind))
    .map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
  await kubectl(['apply', '--server-side', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}, 120_000);

afterAll(async () => {
  if (clusterScoped.length > 0) {
    await kubectl(['delete', ...clusterScoped, '--ignore-not-found']);
  }
  await ns.cleanup();
});

describe('kubectl apply -k config/default', () => {
  it('runs the operator under Pod Security "restricted"', async () => {
    const name = `breakwater-operator${suffix}`;
    await waitFor(
      async () =>
        (await api().get<DeploymentView>(Kinds.Deployment, ns.name, name))?.status
          ?.availableReplicas === 1,
      { timeoutMs: 120_000, description: `Deployment ${name} to be available` },
    );
    const { stdout } = await kubectl(['get', 'namespace', ns.name, '-o', 'json']);
    const labels = (JSON.parse(stdout) as KubeObject).metadata?.labels ?? {};
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('brings the development sample agent up Ready', async () => {
    await kubectl([
      'apply',
      '--server-side',
      '-n',
      ns.name,
      '-k',
      join(repoRoot, 'config/samples'),
    ]);
    await waitFor(async () => isReadyAgent(await getAgent(ns.name, 'assistant-development')), {
      timeoutMs: 150_000,
      description: 'AgentDeployment assistant-development to be Ready',
    });
  });
});

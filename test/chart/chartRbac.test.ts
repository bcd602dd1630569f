/**
 * The chart's cluster-wide RBAC (the default: no watchNamespace), held to what the operator
 * does, without running an operator that would reconcile every other suite's agents: the
 * ServiceAccount and its roles are installed for real; then, as that ServiceAccount, every
 * child the builders produce (their golden files) is applied in another namespace — the
 * RBAC ones for real, so the escalation check judges the Roles handed to runtimes, the
 * workloads as a server-side dry run — and SubjectAccessReviews answer for the rest,
 * including what it must not be able to do.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'yaml';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { moveNamespace } from './chartChecks.ts';
import { findHelm, helmTemplate, repoRoot, type Manifest } from './chartTools.ts';

jest.setTimeout(120_000);

const goldenDir = join(repoRoot, 'operator/src/builders/testdata');

let home: TestNamespace; // the release namespace: ServiceAccount, Lease role
let agents: TestNamespace; // any other namespace, where agents live
let release: string;
let serviceAccount: string;

const operatorUser = (): string => `system:serviceaccount:${home.name}:${serviceAccount}`;

beforeAll(async () => {
  const helm = await findHelm();
  home = await uniqueNamespace('chart-rbac');
  agents = await uniqueNamespace('chart-rbac-agents');
  release = `rbac-${home.name.slice(-6)}`;
  serviceAccount = `${release}-breakwater`;
  const rendered = await helmTemplate(helm, { release, namespace: home.name });
  const identity = rendered
    .split(/^---$/m)
    .filter((doc) =>
      /^kind: (ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/m.test(doc),
    )
    .join('\n---\n');
  await kubectl(['apply', '--server-side', '-f', '-'], { input: identity });
}, 30 * 60_000);

afterAll(async () => {
  await kubectl([
    'delete',
    'clusterrole,clusterrolebinding',
    '-l',
    `app.kubernetes.io/instance=${release}`,
    '--ignore-not-found',
  ]);
  await home.cleanup();
  await agents.cleanup();
});

/** The API server's answer to "may the operator's ServiceAccount do this?" */
async function allowed(attributes: {
  verb: string;
  group?: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}): Promise<boolean> {
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: operatorUser(),
      groups: [
        'system:serviceaccounts',
        `system:serviceaccounts:${home.name}`,
        'system:authenticated',
      ],
      resourceAttributes: { group: '', ...attributes },
    },
  };
  const { stdout } = await kubectl(['create', '-o', 'jsonpath={.status.allowed}', '-f', '-'], {
    input: JSON.stringify(review),
  });
  return stdout.trim() === 'true';
}

/** Objects the dry run cannot judge alone: a RoleBinding's escalation check reads its Role. */
const APPLIED_FOR_REAL = new Set(['ServiceAccount', 'ConfigMap', 'Role', 'RoleBinding']);

describe("the chart's cluster-wide RBAC", () => {
  const goldenFiles = readdirSync(goldenDir).filter((f) => f.endsWith('.golden.yaml'));

  it.each(goldenFiles)(
    "lets the operator's ServiceAccount apply every child in %s, Roles for runtimes included",
    async (file) => {
      const golden = parse(readFileSync(join(goldenDir, file), 'utf8')) as { apply: Manifest[] };
      const children = golden.apply
        // ServiceMonitors need the Prometheus Operator's CRD; the access review covers them.
        .filter((child) => child.kind !== 'ServiceMonitor')
        .map((child) => moveNamespace(child, child.metadata.namespace ?? '', agents.name));
      expect(children.map((c) => c.kind)).toContain('Role');
      const apply = (items: readonly Manifest[], dryRun: boolean) =>
        kubectl(
          [
            'apply',
            '--server-side',
            ...(dryRun ? ['--dry-run=server'] : []),
            '--field-manager=breakwater-operator',
            `--as=${operatorUser()}`,
            '-f',
            '-',
          ],
          { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), allowFailure: true },
        );
      // RBAC and the policy for real (no pods come of them). A RoleBinding's escalation check
      // reads its Role from the API server's cache, which may not hold the Role just created:
      // like the operator, try again.
      const real = await waitFor(
        async () => {
          const result = await apply(
            children.filter((c) => APPLIED_FOR_REAL.has(c.kind)),
            false,
          );
          return result.code === 0 || !result.stderr.includes('NotFound') ? result : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 500, description: 'the RBAC children to apply' },
      );
      expect(real.stderr).toBe('');
      // The workloads as a dry run.
      const workloads = await apply(
        children.filter((c) => !APPLIED_FOR_REAL.has(c.kind)),
        true,
      );
      expect(workloads.stderr).toBe('');
      expect(workloads.code).toBe(0);
    },
  );

  it.each([
    [
      'watches AgentDeployments',
      { verb: 'watch', group: 'breakwater.dev', resource: 'agentdeployments' },
      true,
    ],
    ...['agentdeployments', 'circuitbreakerpolicies', 'ratelimitpolicies'].map(
      (resource) =>
        [
          `patches ${resource}/status`,
          { verb: 'patch', group: 'breakwater.dev', resource, subresource: 'status' },
          true,
        ] as const,
    ),
    ['watches Pods', { verb: 'watch', resource: 'pods' }, true],
    [
      'creates ServiceMonitors',
      { verb: 'create', group: 'monitoring.coreos.com', resource: 'servicemonitors' },
      true,
    ],
    [
      'watches the ServiceMonitor CRD',
      {
        verb: 'watch',
        group: 'apiextensions.k8s.io',
        resource: 'customresourcedefinitions',
        name: 'servicemonitors.monitoring.coreos.com',
      },
      true,
    ],
    [
      'watches no other CRD',
      {
        verb: 'watch',
        group: 'apiextensions.k8s.io',
        resource: 'customresourcedefinitions',
        name: 'agentdeployments.breakwater.dev',
      },
      false,
    ],
    [
      'updates no AgentDeployment spec',
      { verb: 'update', group: 'breakwater.dev', resource: 'agentdeployments' },
      false,
    ],
    ['deletes no Deployment', { verb: 'delete', group: 'apps', resource: 'deployments' }, false],
    ['writes no Secret', { verb: 'create', resource: 'secrets' }, false],
    ['reads no Secret', { verb: 'get', resource: 'secrets' }, false],
    ['lists no Secret', { verb: 'list', resource: 'secrets' }, false],
    ['lists no Nodes', { verb: 'list', resource: 'nodes' }, false],
    [
      'escalates nothing',
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles' },
      false,
    ],
    [
      'binds nothing it lacks',
      { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'roles' },
      false,
    ],
  ] as const)('%s, in any namespace', async (_what, attributes, expected) => {
    expect(await allowed({ ...attributes, namespace: agents.name })).toBe(expected);
  });

  it('confines the leader lease to the release namespace and its one name', async () => {
    const lease = { verb: 'patch', group: 'coordination.k8s.io', resource: 'leases' };
    expect(await allowed({ ...lease, verb: 'create', namespace: home.name })).toBe(true);
    expect(await allowed({ ...lease, name: 'breakwater-operator', namespace: home.name })).toBe(
      true,
    );
    expect(await allowed({ ...lease, name: 'other', namespace: home.name })).toBe(false);
    expect(await allowed({ ...lease, verb: 'create', namespace: agents.name })).toBe(false);
  });
});

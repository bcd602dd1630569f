/**
 * What Breakwater's identities may do, as the API server answers it: config/rbac installed for
 * real (moved into a throwaway namespace, cluster-scoped names suffixed), the chart's RBAC
 * likewise, and the RBAC children the operator builds for an agent with client keys (its
 * golden file). `kubectl auth can-i --list` as each ServiceAccount is kept in a golden file, so
 * any widening shows in review; the chart must grant the operator exactly what config/rbac
 * does. Then real tokens, presented with no client certificate: the operator's cannot read a
 * Secret anywhere, nor the runtime's its own client keys.
 *
 *   UPDATE_GOLDEN=1 jest --selectProjects integration --testPathPatterns test/rbac/effectivePermissions
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'yaml';
import { moveNamespace } from '../chart/chartChecks.ts';
import {
  findHelm,
  helmTemplate,
  parseManifests,
  renderOverlay,
  repoRoot,
  type Manifest,
} from '../chart/chartTools.ts';
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { actAs, serviceAccountToken, type TokenHolder } from '../support/serviceAccountTokens.ts';

jest.setTimeout(120_000);

const GOLDEN = join(repoRoot, 'test/rbac/testdata/effective-permissions.golden.txt');
/** The agent whose RBAC children are applied: the builders' production fixture, with client keys. */
const AGENT_CHILDREN = join(repoRoot, 'operator/src/builders/testdata/production.golden.yaml');
const RUNTIME_ACCOUNT = 'breakwater-runtime-support-agent';
const CLIENT_KEYS_SECRET = 'support-agent-clients';
const RBAC_KINDS = /^(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/;

let home: TestNamespace; // config/rbac's namespace
let chartHome: TestNamespace; // the chart's release namespace
let agents: TestNamespace; // where the agent lives
let elsewhere: TestNamespace;
let operatorAccount: string;
let chartAccount: string;
let clusterScoped: string[] = [];

const serviceAccountUser = (namespace: string, name: string): string =>
  `system:serviceaccount:${namespace}:${name}`;

/** Server-side apply, again while a RoleBinding's escalation check cannot see its new Role yet. */
async function applyRbac(objects: readonly Manifest[]): Promise<void> {
  const result = await waitFor(
    async () => {
      const attempt = await kubectl(['apply', '--server-side', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
        allowFailure: true,
      });
      return attempt.code === 0 || !attempt.stderr.includes('NotFound') ? attempt : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 500, description: 'the RBAC objects to apply' },
  );
  if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr}`);
}

beforeAll(async () => {
  home = await uniqueNamespace('rbac-golden');
  chartHome = await uniqueNamespace('rbac-golden-chart');
  agents = await uniqueNamespace('rbac-golden-agents');
  elsewhere = await uniqueNamespace('rbac-golden-other');
  const suffix = `-${home.name.slice(-6)}`;
  const rbac = await renderOverlay(kubectl, 'config/rbac', {
    namespace: home.name,
    nameSuffix: suffix,
  });
  operatorAccount = rbac.find((o) => o.kind === 'ServiceAccount')?.metadata.name ?? '';
  const release = `golden-${chartHome.name.slice(-6)}`;
  chartAccount = `${release}-breakwater`;
  const chart = parseManifests(
    await helmTemplate(await findHelm(), { release, namespace: chartHome.name }),
  ).filter((o) => RBAC_KINDS.test(o.kind));
  // Without their owner: the garbage collector would remove children of an agent that is not there.
  const agent = (parse(readFileSync(AGENT_CHILDREN, 'utf8')) as { apply: Manifest[] }).apply
    .filter((child) => RBAC_KINDS.test(child.kind))
    .map((child) => moveNamespace(child, child.metadata.namespace ?? '', agents.name))
    .map((child) => ({
      ...child,
      metadata: { name: child.metadata.name, namespace: agents.name },
    }));
  clusterScoped = [...rbac, ...chart]
    .filter((o) => o.kind.startsWith('Cluster'))
    .map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`);
  await applyRbac(rbac);
  await applyRbac(chart);
  await applyRbac(agent);
}, 10 * 60_000);

afterAll(async () => {
  await kubectl(['delete', '--ignore-not-found', ...clusterScoped]);
  await Promise.all([home, chartHome, agents, elsewhere].map((ns) => ns.cleanup()));
});

interface PermissionTable {
  readonly header: string;
  /** Sorted: the API server's order follows its bindings, which varies. */
  readonly rows: readonly string[];
}

/** `kubectl auth can-i --list` as `user` in `namespace`. */
async function permissions(user: string, namespace: string): Promise<PermissionTable> {
  const { stdout } = await kubectl(['auth', 'can-i', '--list', `--as=${user}`, '-n', namespace]);
  const [header = '', ...rows] = stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.trimEnd());
  return { header, rows: rows.sort() };
}

/** kubectl's columns are two or more spaces apart; within one, single spaces (`[get list]`). */
const cells = (row: string): string[] => row.trim().split(/\s{2,}/);

/**
 * The rows of `table` that `baseline` lacks, re-aligned: kubectl sizes its columns to every
 * row, the baseline's included, and those are the cluster's, not Breakwater's.
 */
function beyond(table: PermissionTable, baseline: PermissionTable): string {
  const common = new Set(baseline.rows.map((row) => cells(row).join(' | ')));
  const rows = table.rows.filter((row) => !common.has(cells(row).join(' | '))).map(cells);
  if (rows.length === 0) return '(nothing)';
  const lines = [cells(table.header), ...rows];
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((line) => line[i]?.length ?? 0)));
  return lines
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths?.[i] ?? 0))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

const asText = (table: PermissionTable): string => [table.header, ...table.rows].join('\n');

describe('effective permissions', () => {
  it('match the golden file', async () => {
    const operator = serviceAccountUser(home.name, operatorAccount);
    const runtime = serviceAccountUser(agents.name, RUNTIME_ACCOUNT);
    const baseline = await permissions(
      serviceAccountUser(elsewhere.name, 'default'),
      elsewhere.name,
    );
    const sections: [string, string][] = [
      [
        'The operator (config/rbac), in a namespace where agents live',
        beyond(await permissions(operator, agents.name), baseline),
      ],
      [
        'The operator, in its own namespace (the leader Lease)',
        beyond(await permissions(operator, home.name), baseline),
      ],
      [
        `An agent's runtime (${RUNTIME_ACCOUNT}, from operator/src/builders/testdata/production.golden.yaml, with client keys), in its namespace`,
        beyond(await permissions(runtime, agents.name), baseline),
      ],
      [
        'That runtime, in any other namespace',
        beyond(await permissions(runtime, elsewhere.name), baseline),
      ],
    ];
    const actual = [
      '# `kubectl auth can-i --list --as=system:serviceaccount:<namespace>:<name> -n <namespace>`, rows',
      "# sorted, less what every ServiceAccount may do (discovery and self-reviews: the cluster's, not",
      "# Breakwater's). Written by test/rbac/effectivePermissions.test.ts with UPDATE_GOLDEN=1.",
      ...sections.map(([title, table]) => `\n## ${title}\n\n${table}`),
    ].join('\n');
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(GOLDEN, `${actual}\n`);
    expect(actual).toBe(readFileSync(GOLDEN, 'utf8').trimEnd());
  });

  it.each([
    ['where agents live', () => [agents.name, agents.name] as const],
    ['in its own namespace', () => [chartHome.name, home.name] as const],
  ])("are the same for the chart's operator as for config/rbac's, %s", async (_where, at) => {
    const [chartNamespace, kustomizeNamespace] = at();
    const chart = await permissions(
      serviceAccountUser(chartHome.name, chartAccount),
      chartNamespace,
    );
    const kustomize = await permissions(
      serviceAccountUser(home.name, operatorAccount),
      kustomizeNamespace,
    );
    expect(asText(chart)).toBe(asText(kustomize));
  });
});

describe("the operator's own token", () => {
  let operator: TokenHolder;
  beforeAll(async () => {
    operator = await actAs(
      await serviceAccountToken({ namespace: home.name, serviceAccount: operatorAccount }),
    );
  });

  it('works: it lists the pods it watches', async () => {
    expect((await operator.kubectl(['get', 'pods', '-n', agents.name])).code).toBe(0);
  });

  it.each([
    [
      'lists no Secret in a namespace',
      ['get', 'secrets', '-n', '{agents}'],
      'cannot list resource "secrets" in API group "" in the namespace "{agents}"',
    ],
    [
      'lists no Secret cluster-wide',
      ['get', 'secrets', '--all-namespaces'],
      'cannot list resource "secrets" in API group "" at the cluster scope',
    ],
    [
      "reads not even an agent's client keys",
      ['get', 'secret', CLIENT_KEYS_SECRET, '-n', '{agents}'],
      'cannot get resource "secrets" in API group "" in the namespace "{agents}"',
    ],
  ])('%s', async (_what, args, message) => {
    const result = await operator.kubectl(
      args.map((arg) => arg.replace('{agents}', agents.name)),
      { allowFailure: true },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message.replace('{agents}', agents.name));
  });
});

describe("a runtime's own token", () => {
  it('reads not even its own client keys: the kubelet mounts them', async () => {
    const runtime = await actAs(
      await serviceAccountToken({ namespace: agents.name, serviceAccount: RUNTIME_ACCOUNT }),
    );
    const result = await runtime.kubectl(['get', 'secret', CLIENT_KEYS_SECRET, '-n', agents.name], {
      allowFailure: true,
    });
    expect(result.stderr).toContain(`cannot get resource "secrets" in API group ""`);
  });
});

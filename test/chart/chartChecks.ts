/**
 * What `make chart-test` checks, as named steps that the command line (chartTest.ts) and the
 * integration suite (chart.test.ts) both run: the chart's copies match their sources, helm lint
 * passes, the schema rejects bad values, every value is documented, the chart and config/rbac
 * grant the same rules, and the API server accepts every rendered manifest (server-side dry
 * run) — the chart with its default values and with everything on, and config/default.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import {
  allEnabledValues,
  chartDir,
  CHART_TEST_FIELD_MANAGER,
  helmTemplate,
  monitoringCrdsFixture,
  parseManifests,
  repoRoot,
  run,
  templateArgs,
  type ChartTools,
  type Manifest,
  type RunOptions,
  type RunResult,
} from './chartTools.ts';

export interface ChartCheck {
  /** Reads as a sentence: "helm lint passes with the default values". */
  readonly name: string;
  readonly run: () => Promise<void>;
}

const MONITORING_API_VERSIONS = [
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
];

export function chartChecks(tools: ChartTools): ChartCheck[] {
  const kubectl = (args: readonly string[], options?: RunOptions): Promise<RunResult> =>
    run(tools.kubectl, ['--kubeconfig', tools.kubeconfig, ...args], options);
  const helm = (args: readonly string[], options?: RunOptions): Promise<RunResult> =>
    run(tools.helm, args, options);

  /** Runs `use` in a namespace of its own that enforces Pod Security "restricted". */
  const withNamespace = async (prefix: string, use: (ns: string) => Promise<void>) => {
    const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
    await kubectl(['create', 'namespace', ns]);
    try {
      await kubectl([
        'label',
        'namespace',
        ns,
        'breakwater.dev/test=true',
        'pod-security.kubernetes.io/enforce=restricted',
        'pod-security.kubernetes.io/warn=restricted',
      ]);
      await use(ns);
    } finally {
      await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
    }
  };

  /**
   * Server-side dry run of a whole render: the API server validates every object (schemas,
   * CEL rules, RBAC escalation, admission) and stores nothing. Any warning fails too —
   * Pod Security warns about a Deployment whose pods it would reject.
   */
  const dryRunApply = async (manifests: string, what: string): Promise<void> => {
    const result = await kubectl(
      [
        'apply',
        '--server-side',
        '--dry-run=server',
        '--force-conflicts',
        `--field-manager=${CHART_TEST_FIELD_MANAGER}`,
        '-f',
        '-',
      ],
      { input: manifests, allowFailure: true },
    );
    if (result.code !== 0) {
      throw new Error(`the API server rejected ${what}:\n${result.stderr.trim()}`);
    }
    const warnings = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('Warning:'))
      .join('\n');
    if (warnings !== '') throw new Error(`the API server warned about ${what}:\n${warnings}`);
  };

  /**
   * The monitoring.coreos.com CRDs the all-enabled render needs, installed from the fixture
   * only when the cluster lacks them, and removed again afterwards only if installed here.
   */
  const withMonitoringCrds = async (use: () => Promise<void>): Promise<void> => {
    const names = parseManifests(readFileSync(monitoringCrdsFixture, 'utf8')).map(
      (m) => m.metadata.name,
    );
    const present = await kubectl(['get', 'crd', ...names, '-o', 'name'], {
      allowFailure: true,
    });
    const missing = names.filter((name) => !present.stdout.includes(`/${name}`));
    if (missing.length > 0) {
      const fixture = parseManifests(readFileSync(monitoringCrdsFixture, 'utf8')).filter((m) =>
        missing.includes(m.metadata.name),
      );
      await kubectl(
        ['apply', '--server-side', `--field-manager=${CHART_TEST_FIELD_MANAGER}`, '-f', '-'],
        { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: fixture }) },
      );
      await kubectl([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        ...missing.map((name) => `crd/${name}`),
      ]);
    }
    try {
      await use();
    } finally {
      if (missing.length > 0) {
        await kubectl(['delete', 'crd', ...missing, '--ignore-not-found', '--wait=false']);
      }
    }
  };

  return [
    {
      name: "the chart's copies of the CRDs, alert rules, RBAC rules and admission policy match their sources",
      run: async () => {
        await run(join(repoRoot, 'test/chart/sync-chart-files.sh'), ['--check']);
      },
    },
    {
      name: 'helm lint passes with the default values',
      run: async () => {
        await helm(['lint', '--strict', chartDir]);
      },
    },
    {
      name: 'helm lint passes with everything enabled',
      run: async () => {
        await helm(['lint', '--strict', chartDir, '--values', allEnabledValues]);
      },
    },
    {
      name: 'the chart refuses values that cannot work, naming the value',
      run: async () => {
        const cases: [string, Record<string, string>, RegExp][] = [
          ['an unknown value', { replicas: '2' }, /additional properties 'replicas'/i],
          ['a log level pino lacks', { logLevel: 'loud' }, /logLevel/],
          ['port 0', { 'metrics.port': '0' }, /metrics\.port|metrics\/port/],
          ['an invalid namespace name', { watchNamespace: 'Not_A_Namespace' }, /watchNamespace/],
          [
            'two replicas without leader election',
            { replicaCount: '2', 'leaderElection.enabled': 'false' },
            /needs leaderElection\.enabled=true/,
          ],
          [
            'no ServiceAccount name when not creating one',
            { 'serviceAccount.create': 'false' },
            /serviceAccount\.name is required/,
          ],
        ];
        const failures: string[] = [];
        for (const [what, set, message] of cases) {
          const result = await helm(templateArgs({ namespace: 'default', set }), {
            allowFailure: true,
          });
          if (result.code === 0) failures.push(`${what}: rendered without an error`);
          else if (!message.test(result.stderr))
            failures.push(`${what}: failed without naming the value:\n${result.stderr.trim()}`);
        }
        if (failures.length > 0) throw new Error(failures.join('\n'));
      },
    },
    {
      name: 'README.md documents every value that values.yaml documents',
      run: async () => {
        const values = parseDocument(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
        const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
        const { documented, undocumented } = documentedValues(values.contents);
        const missing = documented.filter((path) => !readme.includes(`\`${path}\``));
        const problems = [
          ...undocumented.map((path) => `${path} has no "# -- " comment in values.yaml`),
          ...missing.map((path) => `${path} is not in README.md`),
        ];
        if (problems.length > 0) throw new Error(problems.join('\n'));
        await Promise.resolve();
      },
    },
    {
      name: 'the default render runs non-root with a read-only root filesystem and no monitoring objects',
      run: async () => {
        const objects = parseManifests(await helmTemplate(tools.helm, { namespace: 'breakwater' }));
        const kinds = objects.map((o) => o.kind).sort();
        expectEqual(
          kinds,
          [
            'ClusterRole',
            'ClusterRole',
            'ClusterRoleBinding',
            'ClusterRoleBinding',
            'Deployment',
            'Role',
            'RoleBinding',
            'Service',
            'ServiceAccount',
            'ValidatingAdmissionPolicy',
            'ValidatingAdmissionPolicyBinding',
          ],
          'kinds rendered with the default values',
        );
        const pod = podSpecOf(objects);
        const container = pod.containers[0];
        expectEqual(pod.securityContext?.runAsNonRoot, true, 'pod runAsNonRoot');
        expectEqual(typeof pod.securityContext?.runAsUser, 'number', 'pod runAsUser type');
        expectEqual(container?.securityContext?.readOnlyRootFilesystem, true, 'read-only root');
        expectEqual(container?.securityContext?.allowPrivilegeEscalation, false, 'no escalation');
        expectEqual(container?.securityContext?.capabilities?.drop, ['ALL'], 'capabilities');
        // Helm sees the API on a cluster that serves it, or when told with --api-versions.
        const withApis = parseManifests(
          await helmTemplate(tools.helm, {
            namespace: 'breakwater',
            apiVersions: MONITORING_API_VERSIONS,
          }),
        );
        expectEqual(
          withApis.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1').map((o) => o.kind),
          ['PrometheusRule', 'ServiceMonitor'],
          'monitoring objects when the cluster serves their API',
        );
      },
    },
    {
      name: 'the PrometheusRule links each alert to the runbook at prometheusRule.runbookBaseURL',
      run: async () => {
        const base = 'https://runbooks.example.com/breakwater/v1/runbook.md';
        const urls = async (set: Record<string, string>): Promise<string[]> => {
          const objects = parseManifests(
            await helmTemplate(tools.helm, {
              namespace: 'x',
              apiVersions: MONITORING_API_VERSIONS,
              set,
            }),
          );
          const rule = objects.find((o) => o.kind === 'PrometheusRule') as
            | { spec?: { groups?: { rules?: { annotations?: { runbook_url?: string } }[] }[] } }
            | undefined;
          return (rule?.spec?.groups ?? []).flatMap((g) =>
            (g.rules ?? []).map((r) => r.annotations?.runbook_url ?? ''),
          );
        };
        const project = await urls({});
        const own = await urls({ 'prometheusRule.runbookBaseURL': `${base}/` });
        expectEqual(project.length > 0, true, 'alerts in the PrometheusRule');
        expectEqual(
          own,
          project.map((url) => `${base}${url.slice(url.indexOf('#'))}`),
          'runbook_url of every alert, on the base the values name',
        );
      },
    },
    {
      name: 'the chart and config/rbac grant the same rules',
      run: async () => {
        const chart = rulesByRole(
          parseManifests(await helmTemplate(tools.helm, { namespace: 'x' })),
        );
        const kustomize = rulesByRole(parseManifests(await kustomizeDefault(tools)));
        expectEqual(Object.keys(chart).sort(), Object.keys(kustomize).sort(), 'roles');
        for (const role of Object.keys(chart)) {
          expectEqual(chart[role], kustomize[role], `rules of the ${role} role`);
        }
      },
    },
    {
      name: 'the chart and config/default confine runtimes with the same admission policy',
      run: async () => {
        const chart = admissionPolicies(
          parseManifests(await helmTemplate(tools.helm, { namespace: 'x' })),
        );
        const kustomize = admissionPolicies(parseManifests(await kustomizeDefault(tools)));
        expectEqual(chart, kustomize, 'admission policies and bindings');
      },
    },
    {
      name: 'the API server accepts the chart rendered with the default values',
      run: () =>
        withNamespace('chart-default', async (ns) => {
          const rendered = await helmTemplate(tools.helm, { namespace: ns, includeCrds: true });
          await dryRunApply(rendered, 'the default render');
        }),
    },
    {
      name: 'the API server accepts the chart rendered with everything enabled',
      run: () =>
        withMonitoringCrds(() =>
          withNamespace('chart-all', async (ns) => {
            const rendered = await helmTemplate(tools.helm, {
              namespace: ns,
              includeCrds: true,
              valuesFiles: [allEnabledValues],
              set: { watchNamespace: ns },
            });
            const kinds = new Set(parseManifests(rendered).map((o) => o.kind));
            for (const kind of ['PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule']) {
              if (!kinds.has(kind)) throw new Error(`the all-enabled render has no ${kind}`);
            }
            await dryRunApply(rendered, 'the all-enabled render');
          }),
        ),
    },
    {
      name: 'the API server accepts config/default as kubectl kustomize renders it',
      run: () =>
        withNamespace('kustomize-default', async (ns) => {
          // Moved into the throwaway namespace: a dry run cannot create breakwater-system
          // and then fill it.
          const objects = parseManifests(await kustomizeDefault(tools))
            .filter((o) => o.kind !== 'Namespace')
            .map((o) => moveNamespace(o, 'breakwater-system', ns));
          await dryRunApply(
            JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
            'config/default',
          );
        }),
    },
  ];
}

/** `kubectl kustomize config/default`, exactly as a user runs it. */
export async function kustomizeDefault(tools: ChartTools): Promise<string> {
  return (await run(tools.kubectl, ['kustomize', join(repoRoot, 'config/default')])).stdout;
}

interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: unknown };
  containers: {
    securityContext?: {
      readOnlyRootFilesystem?: boolean;
      allowPrivilegeEscalation?: boolean;
      capabilities?: { drop?: string[] };
    };
  }[];
}

function podSpecOf(objects: readonly Manifest[]): PodSpec {
  const deployment = objects.find((o) => o.kind === 'Deployment') as
    (Manifest & { spec: { template: { spec: PodSpec } } }) | undefined;
  if (deployment === undefined) throw new Error('no Deployment rendered');
  return deployment.spec.template.spec;
}

/**
 * Rules per Role or ClusterRole, keyed by what the role is for (the name without the chart's
 * or kustomize's prefix), each rule's lists sorted so that order does not count.
 */
export function rulesByRole(objects: readonly Manifest[]): Record<string, unknown[]> {
  const roles: Record<string, unknown[]> = {};
  for (const o of objects) {
    if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
    const purpose = o.metadata.name.replace(/^breakwater-/, '');
    const rules = (o['rules'] ?? []) as Record<string, unknown>[];
    roles[`${o.kind}/${purpose}`] = rules.map((rule) =>
      Object.fromEntries(
        Object.entries(rule)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, value]) => [
            key,
            Array.isArray(value) ? [...(value as string[])].sort() : value,
          ]),
      ),
    );
  }
  return roles;
}

/**
 * ValidatingAdmissionPolicies and their bindings by kind, without the names the chart and
 * kustomize give them: the policy's spec, and what each binding does with it.
 */
export function admissionPolicies(objects: readonly Manifest[]): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  for (const o of objects) {
    const spec = o['spec'] as Record<string, unknown> | undefined;
    if (o.kind === 'ValidatingAdmissionPolicy') found[o.kind] = spec;
    if (o.kind === 'ValidatingAdmissionPolicyBinding') {
      found[o.kind] = { ...spec, policyName: undefined };
    }
  }
  return found;
}

/** The object with `from` replaced by `to` as its namespace and in its binding subjects. */
export function moveNamespace(object: Manifest, from: string, to: string): Manifest {
  const moved = structuredClone(object);
  if (moved.metadata.namespace === from) moved.metadata.namespace = to;
  const subjects = moved['subjects'] as { namespace?: string }[] | undefined;
  for (const subject of subjects ?? []) {
    if (subject.namespace === from) subject.namespace = to;
  }
  return moved;
}

/**
 * Dotted paths of the values that carry a "# -- " comment (the convention values.yaml follows),
 * and of scalar values with no such comment on themselves or on a parent.
 */
export function documentedValues(root: YamlNode | null): {
  documented: string[];
  undocumented: string[];
} {
  const documented: string[] = [];
  const undocumented: string[] = [];
  const walk = (node: unknown, prefix: string, covered: boolean): void => {
    if (!isMap(node)) return;
    node.items.forEach((pair, index) => {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const path = prefix === '' ? key : `${prefix}.${key}`;
      // The parser gives a comment above a map's first key to the map itself.
      const comment =
        (isScalar(pair.key) ? pair.key.commentBefore : undefined) ??
        (index === 0 ? node.commentBefore : undefined) ??
        '';
      const hasDoc = /(^|\n)\s*-- /.test(comment);
      if (hasDoc) documented.push(path);
      if (isMap(pair.value) && !hasDoc) walk(pair.value, path, covered);
      else if (!hasDoc && !covered && (isScalar(pair.value) || isSeq(pair.value))) {
        undocumented.push(path);
      }
    });
  };
  walk(root, '', false);
  return { documented, undocumented };
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

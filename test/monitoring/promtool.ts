/**
 * promtool (Debian's `prometheus` package; scripts/ensure-tools.sh installs it) and what the
 * monitoring tests need around it: the Breakwater metric names a PromQL expression uses, and
 * the metric families a scrape declares.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const RULES_FILE = join(repoRoot, 'config/prometheus/breakwater-rules.yaml');
export const RULE_TESTS_FILE = join(repoRoot, 'config/prometheus/breakwater-rules.test.yaml');
export const PROMETHEUS_RULE_FILE = join(repoRoot, 'config/prometheus/prometheusrule.yaml');
export const DASHBOARD_FILE = join(repoRoot, 'config/grafana/breakwater-dashboard.json');

export interface PromtoolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function promtool(args: readonly string[], input?: string): PromtoolResult {
  const binary = process.env['BREAKWATER_PROMTOOL'] ?? 'promtool';
  const result = spawnSync(binary, args, {
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
    cwd: repoRoot,
  });
  if (result.error !== undefined) {
    throw new Error(
      `could not run ${binary} (${result.error.message}); scripts/ensure-tools.sh installs it`,
    );
  }
  return { code: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/** `promtool check metrics` problems as `metric → problem`, from its output lines. */
export function lintProblems(output: string): Map<string, string> {
  const problems = new Map<string, string>();
  for (const line of output.split('\n')) {
    const match = /^(\S+) (.+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) problems.set(match[1], match[2]);
  }
  return problems;
}

/** Families Breakwater exports (the runtime's, the operator's, the GenAI conventions'), by name prefix. */
const BREAKWATER_FAMILY = /^(agent_|circuit_breaker_|rate_limiter_|bulkhead_|breakwater_|gen_ai_)/;

/** The Breakwater metric names an expression reads (histogram suffixes kept). */
export function metricNamesIn(expr: string): Set<string> {
  // Drop string literals, label matchers and label lists first: neither label values nor
  // label names (`gen_ai_request_model` is one) are metric names.
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (BREAKWATER_FAMILY.test(match[0])) names.add(match[0]);
  }
  return names;
}

/** `# TYPE name kind` lines of an exposition, as name → kind. */
export function declaredFamilies(exposition: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (match[1] !== undefined && match[2] !== undefined) families.set(match[1], match[2]);
  }
  return families;
}

/** Whether `name` is a family of the exposition, or a histogram's _bucket/_sum/_count series. */
export function isExported(name: string, families: ReadonlyMap<string, string>): boolean {
  if (families.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && families.get(base) === 'histogram';
}

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface RuleGroups {
  readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[];
}

/** Every PromQL expression in the dashboard (panels, annotations), Grafana variables resolved. */
export function dashboardExpressions(dashboard: unknown): string[] {
  const exprs: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
    } else if (typeof node === 'object' && node !== null) {
      const expr = (node as { expr?: unknown }).expr;
      if (typeof expr === 'string') exprs.push(expr);
      Object.values(node).forEach(visit);
    }
  };
  visit(dashboard);
  return exprs.map(resolveGrafanaVariables);
}

/** What Grafana puts in place of its variables when it sends a query. */
export function resolveGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '2m')
    .replaceAll('$__range', '3h')
    .replace(/\$(namespace|agent)\b/g, '.*');
}

export function readDashboard(): unknown {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as unknown;
}

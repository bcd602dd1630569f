/**
 * The programs the chart checks run — helm (built from its Go module and cached by
 * tools/cluster/build-helm.sh), kubectl and `kubectl kustomize` — and the paths they work on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { runCommand, type RunOptions, type RunResult } from '../../tools/cluster/runCommand.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const chartDir = join(repoRoot, 'charts/breakwater');
export const allEnabledValues = join(chartDir, 'ci/all-enabled-values.yaml');
export const monitoringCrdsFixture = join(repoRoot, 'test/fixtures/monitoring-crds.yaml');
/** The field manager of everything the chart checks apply (dry runs included). */
export const CHART_TEST_FIELD_MANAGER = 'breakwater-chart-test';

export type { RunOptions, RunResult };

/** Runs `command` from the repository root. */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return runCommand(command, args, { cwd: repoRoot, ...options });
}

/** Where the cluster and its tools are; the integration suite's variables win. */
export interface ChartTools {
  readonly helm: string;
  readonly kubectl: string;
  readonly kubeconfig: string;
}

/** The cached helm, built on first use (a few minutes) — never a downloaded release. */
export async function findHelm(): Promise<string> {
  const built = await run(join(repoRoot, 'tools/cluster/build-helm.sh'), [], {
    timeoutMs: 30 * 60_000,
    streamStderr: true,
  });
  return built.stdout.trim().split('\n').pop() ?? '';
}

/** kubectl the way the Makefile finds it: TEST_ASSET_KUBECTL, KUBEBUILDER_ASSETS, the cache. */
export async function findKubectl(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const explicit = env['BREAKWATER_KUBECTL'] ?? env['TEST_ASSET_KUBECTL'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const assets = env['KUBEBUILDER_ASSETS'];
  if (assets !== undefined && assets !== '') return join(assets, 'kubectl');
  const built = await run(join(repoRoot, 'tools/cluster/build-binaries.sh'), ['kubectl'], {
    timeoutMs: 30 * 60_000,
    streamStderr: true,
  });
  return join(built.stdout.trim().split('\n').pop() ?? '', 'kubectl');
}

export function kubeconfigFrom(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env['BREAKWATER_KUBECONFIG'], env['KUBECONFIG']];
  return (
    candidates.find((c) => c !== undefined && c !== '') ??
    join(repoRoot, '.breakwater/kind/breakwater/kubeconfig')
  );
}

/** A Kubernetes object as the renderers emit it; only what the checks look at is typed. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
  };
  [field: string]: unknown;
}

/**
 * A kustomization of the repository adapted the way a user adapts one: `overlay` (a namespace,
 * a name suffix, patches…) over `base`, rendered by `kubectl kustomize`. kustomize takes a base
 * only by a relative path, so the overlay lives in a temporary directory for the render.
 */
export async function renderOverlay(
  kubectl: (args: readonly string[]) => Promise<{ readonly stdout: string }>,
  base: string,
  overlay: Readonly<Record<string, unknown>>,
): Promise<Manifest[]> {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-overlay-'));
  try {
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...overlay,
      resources: [relative(dir, join(repoRoot, base))],
    };
    writeFileSync(join(dir, 'kustomization.yaml'), stringify(kustomization));
    return parseManifests((await kubectl(['kustomize', dir])).stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every non-empty document of a multi-document YAML stream. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`unparsable YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

export interface TemplateOptions {
  readonly release?: string;
  readonly namespace: string;
  readonly valuesFiles?: readonly string[];
  readonly set?: Readonly<Record<string, string>>;
  readonly apiVersions?: readonly string[];
  readonly includeCrds?: boolean;
}

export function templateArgs(options: TemplateOptions): string[] {
  return [
    'template',
    options.release ?? 'breakwater',
    chartDir,
    '--namespace',
    options.namespace,
    ...(options.includeCrds === true ? ['--include-crds'] : []),
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    ...Object.entries(options.set ?? {}).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
    ...(options.apiVersions ?? []).flatMap((version) => ['--api-versions', version]),
  ];
}

/** `helm template`: the chart as Helm would install it, without a cluster. */
export async function helmTemplate(helm: string, options: TemplateOptions): Promise<string> {
  return (await run(helm, templateArgs(options))).stdout;
}

import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ClusterError } from './clusterError.ts';
import type { ClusterLayout } from './layout.ts';
import type { Progress } from './progress.ts';

export const binaryNames = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
] as const;
export type BinaryName = (typeof binaryNames)[number];

export interface ResolvedBinary {
  readonly path: string;
  /** Where it came from: an envtest variable, or the build cache. */
  readonly source: string;
  /** `1.36.3` for Kubernetes binaries, `3.6.8` for etcd. */
  readonly version: string;
}
export type Binaries = Readonly<Record<BinaryName, ResolvedBinary>>;

/** The oldest Kubernetes minor the local cluster supports. */
export const minimumKubernetesMinor = 34;

/** The envtest name of the variable that points at one binary: TEST_ASSET_KUBE_APISERVER. */
export function assetVariable(name: BinaryName): string {
  return `TEST_ASSET_${name.toUpperCase().replaceAll('-', '_')}`;
}

type Located = { readonly path: string; readonly source: string } | undefined;

/**
 * Where a binary comes from when the environment names one, following envtest: the per-binary
 * TEST_ASSET_* variable wins over the KUBEBUILDER_ASSETS directory. `undefined` means "build it".
 */
export function locateFromEnv(name: BinaryName, env: NodeJS.ProcessEnv): Located {
  const variable = assetVariable(name);
  const explicit = env[variable];
  if (explicit !== undefined && explicit !== '') {
    if (!isExecutableFile(explicit)) {
      throw new ClusterError(
        'BinariesUnavailable',
        `${variable}=${explicit} is not an executable file`,
        { component: name },
      );
    }
    return { path: explicit, source: variable };
  }
  const assets = env['KUBEBUILDER_ASSETS'];
  if (assets !== undefined && assets !== '') {
    const candidate = join(assets, name);
    if (isExecutableFile(candidate)) return { path: candidate, source: 'KUBEBUILDER_ASSETS' };
  }
  return undefined;
}

/**
 * Finds every binary, building the missing ones once into the cache (build-binaries.sh prints
 * its progress, which is passed on), and checks that their versions fit together.
 */
export async function resolveBinaries(
  layout: ClusterLayout,
  env: NodeJS.ProcessEnv,
  progress: Progress,
): Promise<Binaries> {
  const located = new Map<BinaryName, { path: string; source: string }>();
  const missing: BinaryName[] = [];
  for (const name of binaryNames) {
    const found = locateFromEnv(name, env);
    if (found === undefined) missing.push(name);
    else located.set(name, found);
  }
  if (missing.length > 0) {
    const dir = await runBuildScript(layout.buildScript, missing, progress);
    for (const name of missing) located.set(name, { path: join(dir, name), source: 'cache' });
  }
  const entries = await Promise.all(
    binaryNames.map(async (name): Promise<[BinaryName, ResolvedBinary]> => {
      const found = located.get(name);
      if (found === undefined) throw new Error(`binary ${name} was neither found nor built`);
      return [name, { ...found, version: await versionOf(name, found.path) }];
    }),
  );
  const binaries = Object.fromEntries(entries) as Record<BinaryName, ResolvedBinary>;
  checkVersionSkew(binaries, progress);
  return binaries;
}

/**
 * Runs one of the cache-filling build scripts (build-binaries.sh, build-node-images.sh), passing
 * its `>>` progress lines on; resolves with the directory it prints last.
 */
export async function runBuildScript(
  script: string,
  names: readonly string[],
  progress: Progress,
): Promise<string> {
  const child = spawn('bash', [script, ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  // Progress lines (">> ...") are shown as they come; anything else is the reason it failed.
  const complaints: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith('>>')) progress(line);
    else complaints.push(line);
  });
  const code = await new Promise<number>((resolve) => {
    child.on('close', (exitCode) => {
      resolve(exitCode ?? 1);
    });
    child.on('error', () => {
      resolve(127);
    });
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || dir === '') {
    // The script explains itself (Go missing, a compile error); say it once, without its prefix.
    const why = complaints
      .join('\n')
      .trim()
      .replace(/^error: /, '');
    throw new ClusterError(
      'BinariesUnavailable',
      why === '' ? `could not build ${names.join(', ')} (${script} exited with ${code})` : why,
      { component: 'binaries' },
    );
  }
  return dir;
}

const run = promisify(execFile);

async function versionOf(name: BinaryName, path: string): Promise<string> {
  const args = name === 'kubectl' ? ['version', '--client=true'] : ['--version'];
  let output: string;
  try {
    output = (await run(path, args, { timeout: 30_000 })).stdout;
  } catch (error: unknown) {
    throw new ClusterError(
      'BinariesUnavailable',
      `${path} does not run: ${error instanceof Error ? error.message : String(error)}`,
      { component: name },
    );
  }
  const match = /v?(\d+\.\d+\.\d+)/.exec(output);
  if (match?.[1] === undefined) {
    throw new ClusterError(
      'BinariesUnavailable',
      `${path} ${args.join(' ')} printed no version: ${output.trim()}`,
      { component: name },
    );
  }
  return match[1];
}

function minorOf(version: string): number {
  return Number(version.split('.')[1]);
}

/** Refuses Kubernetes older than 1.34; warns about a skew the Kubernetes policy does not support. */
function checkVersionSkew(binaries: Binaries, progress: Progress): void {
  const server = minorOf(binaries['kube-apiserver'].version);
  if (server < minimumKubernetesMinor) {
    throw new ClusterError(
      'BinariesUnavailable',
      `kube-apiserver ${binaries['kube-apiserver'].version} (${binaries['kube-apiserver'].path}) ` +
        `is older than 1.${minimumKubernetesMinor}, the oldest this cluster supports`,
      { component: 'kube-apiserver' },
    );
  }
  for (const name of ['kube-controller-manager', 'kube-scheduler', 'kubectl'] as const) {
    const minor = minorOf(binaries[name].version);
    const allowed =
      name === 'kubectl' ? Math.abs(minor - server) <= 1 : minor <= server && minor >= server - 1;
    if (!allowed) {
      progress(
        `warning: ${name} ${binaries[name].version} (${binaries[name].source}) with kube-apiserver ` +
          `${binaries['kube-apiserver'].version} is outside the supported version skew`,
      );
    }
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The kubectl for a cluster that is not the local one (BREAKWATER_KUBECONFIG set): the one
 * BREAKWATER_KUBECTL names, an envtest one, the one on PATH, else the cached build.
 */
export async function findKubectl(
  layout: ClusterLayout,
  env: NodeJS.ProcessEnv,
  progress: Progress,
): Promise<string> {
  const named = env['BREAKWATER_KUBECTL'];
  if (named !== undefined && named !== '') return named;
  const fromEnv = locateFromEnv('kubectl', env);
  if (fromEnv !== undefined) return fromEnv.path;
  const onPath = (env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'kubectl'))
    .find(isExecutableFile);
  if (onPath !== undefined) return onPath;
  return join(await runBuildScript(layout.buildScript, ['kubectl'], progress), 'kubectl');
}

import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ClusterError } from './clusterError.ts';
import type { ClusterLayout } from './layout.ts';
import type { Progress } from './progress.ts';

/** The envtest name of the variable that points at one binary: TEST_ASSET_KUBECTL. */
export function assetVariable(name: string): string {
  return `TEST_ASSET_${name.toUpperCase().replaceAll('-', '_')}`;
}

type Located = { readonly path: string; readonly source: string } | undefined;

/**
 * Where a binary comes from when the environment names one, following envtest: the per-binary
 * TEST_ASSET_* variable wins over the KUBEBUILDER_ASSETS directory. `undefined` means "build it".
 */
export function locateFromEnv(name: string, env: NodeJS.ProcessEnv): Located {
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
 * The kubectl to drive the cluster with: the one BREAKWATER_KUBECTL names, an envtest one, else
 * the cached build, of the version kind's node runs (the node image's build and
 * kind-cluster.sh put it there). Not the one on PATH: that may be any version (a v1.32
 * /usr/bin/kubectl against a v1.36 server), and `make up` prints this one's directory as the
 * kubectl that matches the cluster.
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
  return join(await runBuildScript(layout.buildScript, ['kubectl'], progress), 'kubectl');
}

/**
 * Breakwater's own image on the real node. The operator's pods and the chart ask for
 * `ghcr.io/breakwater-dev/breakwater:<package.json version>`, and nothing is ever pulled, so
 * the node must hold that tag, built from this checkout. `loadProjectImage` builds it with
 * `make image`'s script (podman, its layer cache makes an unchanged checkout a few seconds) and
 * imports it into containerd when the build's image ID is not the one imported last.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ClusterError } from '../clusterError.ts';
import type { ClusterLayout } from '../layout.ts';
import { seconds, type Progress } from '../progress.ts';
import { runCommand } from '../runCommand.ts';
import { realNodeLayout } from './nodeLayout.ts';

/** The image the chart and the operator default to, unless BREAKWATER_IMAGE names another. */
export async function projectImageRef(
  cluster: ClusterLayout,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const given = env['BREAKWATER_IMAGE'];
  if (given !== undefined && given !== '') return given;
  const manifest = JSON.parse(await readFile(join(cluster.repoRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  return `ghcr.io/breakwater-dev/breakwater:${manifest.version}`;
}

export interface ProjectImage {
  readonly ref: string;
  /** The image ID (its config digest) the node now holds. */
  readonly id: string;
  /** Whether this call imported it (false: the node had this build already). */
  readonly imported: boolean;
}

/** Builds the checkout's image and makes sure the node's containerd holds that very build. */
export async function loadProjectImage(
  cluster: ClusterLayout,
  env: NodeJS.ProcessEnv,
  progress: Progress,
): Promise<ProjectImage> {
  const ref = await projectImageRef(cluster, env);
  const node = realNodeLayout(cluster);
  const podman = join(cluster.repoRoot, 'scripts', 'image', 'podman.sh');
  await buildImage(cluster, ref, env, progress);
  const { stdout } = await runCommand('bash', [
    podman,
    'image',
    'inspect',
    '--format',
    '{{.Id}}',
    ref,
  ]);
  const id = stdout.trim();

  const marker = join(node.dir, 'images', `${ref.replace(/[^\w.-]+/g, '_')}.id`);
  const { stdout: list } = await runCommand('ctr', [
    '--address',
    node.containerdSocket,
    '--namespace',
    'k8s.io',
    'images',
    'list',
    '--quiet',
  ]);
  const last = await readFile(marker, 'utf8').catch(() => '');
  if (list.split('\n').includes(ref) && last.trim() === id) return { ref, id, imported: false };

  const began = Date.now();
  try {
    await importFromPodman(cluster.repoRoot, ref, node.containerdSocket);
  } catch (error: unknown) {
    throw new ClusterError(
      'NotReady',
      `could not import ${ref}: ${error instanceof Error ? error.message : String(error)}`,
      { component: 'containerd' },
    );
  }
  await mkdir(join(node.dir, 'images'), { recursive: true });
  await writeFile(marker, `${id}\n`);
  progress(
    `imported ${ref} (${id.slice(0, 12)}) into containerd in ${seconds(Date.now() - began)}`,
  );
  return { ref, id, imported: true };
}

/**
 * Copies an image from podman's storage into containerd's `k8s.io` namespace, where the kubelet
 * finds it (the project's image here; the agent images the own-agent suite builds).
 */
export async function importFromPodman(
  repoRoot: string,
  ref: string,
  containerdSocket: string,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'breakwater-image-'));
  try {
    const archive = join(dir, 'image.tar');
    const podman = join(repoRoot, 'scripts', 'image', 'podman.sh');
    const long = { timeoutMs: 300_000 };
    await runCommand(
      'bash',
      [podman, 'save', '--format', 'docker-archive', '-o', archive, ref],
      long,
    );
    await runCommand(
      'ctr',
      ['--address', containerdSocket, '--namespace', 'k8s.io', 'images', 'import', archive],
      long,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `scripts/image/build-image.sh` with podman, its progress lines passed on as they come (a cold
 * build assembles the bases from packages first, which takes minutes).
 */
async function buildImage(
  cluster: ClusterLayout,
  ref: string,
  env: NodeJS.ProcessEnv,
  progress: Progress,
): Promise<void> {
  const script = join(cluster.repoRoot, 'scripts', 'image', 'build-image.sh');
  const child = spawn('bash', [script, ref], {
    env: { ...env, CONTAINER_TOOL: 'podman' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const said: string[] = [];
  const listen = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      said.push(line);
      if (said.length > 40) said.shift();
      if (line.startsWith('>>') || line.startsWith('STEP ')) progress(line);
    });
  listen(child.stdout);
  listen(child.stderr);
  const code = await new Promise<number>((resolve) => {
    child.on('close', (exit) => {
      resolve(exit ?? 1);
    });
    child.on('error', () => {
      resolve(127);
    });
  });
  if (code !== 0) {
    throw new ClusterError(
      'ToolMissing',
      `building ${ref} (scripts/image/build-image.sh) failed with ${code}:\n${said.join('\n')}`,
      { component: 'image' },
    );
  }
}

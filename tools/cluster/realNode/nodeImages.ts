import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuildScript } from '../binaries.ts';
import { ClusterError } from '../clusterError.ts';
import type { Progress } from '../progress.ts';
import { runCommand } from '../runCommand.ts';

/** The images the real node runs, each built locally into an archive (build-node-images.sh). */
export const nodeImageNames = ['pause', 'coredns', 'busybox'] as const;
export type NodeImageName = (typeof nodeImageNames)[number];

export interface NodeImages {
  readonly dir: string;
  /** The reference each image is imported under: `localhost/breakwater/pause:<hash>`. */
  readonly refs: Readonly<Record<NodeImageName, string>>;
}

/** Builds the images once into the cache (minutes the first time), then finds them there. */
export async function buildNodeImages(script: string, progress: Progress): Promise<NodeImages> {
  const dir = await runBuildScript(script, [], progress);
  const refs = JSON.parse(await readFile(join(dir, 'images.json'), 'utf8')) as Record<
    NodeImageName,
    string
  >;
  return { dir, refs };
}

/**
 * Imports into containerd's `k8s.io` namespace, where the CRI plugin looks, every image it does
 * not hold yet. Nothing is ever pulled: the pods use `imagePullPolicy: Never` or IfNotPresent.
 */
export async function importNodeImages(
  images: NodeImages,
  containerdSocket: string,
  progress: Progress,
): Promise<void> {
  const ctr = (args: readonly string[], timeoutMs = 60_000) =>
    runCommand('ctr', ['--address', containerdSocket, '--namespace', 'k8s.io', ...args], {
      timeoutMs,
    });
  const held = new Set((await ctr(['images', 'list', '--quiet'])).stdout.split('\n'));
  for (const name of nodeImageNames) {
    const ref = images.refs[name];
    if (held.has(ref)) continue;
    const started = Date.now();
    try {
      await ctr(['images', 'import', join(images.dir, `${name}.tar`)], 300_000);
    } catch (error: unknown) {
      throw new ClusterError(
        'NotReady',
        `could not import ${ref}: ${error instanceof Error ? error.message : String(error)}`,
        { component: 'containerd' },
      );
    }
    progress(`imported ${ref} into containerd in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }
}

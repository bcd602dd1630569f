/**
 * Breakwater's own image in the cluster. The operator's pods and the chart ask for
 * `ghcr.io/breakwater-dev/breakwater:<package.json version>`, and nothing is ever pulled, so
 * kind's node must hold that tag, built from this checkout: tools/kindNode/kindCluster.ts builds
 * it with `make image`'s script and loads it into the node.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterLayout } from './layout.ts';

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

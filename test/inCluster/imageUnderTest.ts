/**
 * The Breakwater image the in-cluster suite installs. On kind, `make e2e-kind` has built it
 * and loaded it into the nodes and names it in BREAKWATER_CHART_IMAGE. On the local cluster
 * the suite builds it itself with `make image`'s script and podman (the local node's
 * container mode runs from podman's storage), so a fresh `make test` needs nothing more; the
 * build reuses podman's layer cache and the cached base images, so an unchanged tree takes
 * seconds.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../chart/chartTools.ts';

const run = promisify(execFile);

/** The tag the suite builds on the local cluster (`make e2e-kind`'s default, too). */
export const LOCAL_TEST_IMAGE = 'ghcr.io/breakwater-dev/breakwater:e2e';

export async function imageUnderTest(): Promise<string> {
  const given = process.env['BREAKWATER_CHART_IMAGE'];
  if (given !== undefined && given !== '') return given;
  if (process.env['BREAKWATER_LOCAL_CLUSTER'] !== '1') {
    throw new Error(
      'BREAKWATER_CHART_IMAGE must name an image the cluster nodes have (make e2e-kind sets it)',
    );
  }
  const script = join(repoRoot, 'scripts/image/build-image.sh');
  try {
    await run(script, [LOCAL_TEST_IMAGE], {
      cwd: repoRoot,
      env: { ...process.env, CONTAINER_TOOL: 'podman' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const { stderr = '', stdout = '' } = err as { stderr?: string; stdout?: string };
    throw new Error(
      `scripts/image/build-image.sh ${LOCAL_TEST_IMAGE} failed (it needs podman, runc and ` +
        `debootstrap: make tools):\n${(stdout + stderr).slice(-4000)}`,
    );
  }
  return LOCAL_TEST_IMAGE;
}

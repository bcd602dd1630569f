/**
 * `kubectl breakwater …` as an on-call engineer runs it: the plugin from this checkout on PATH
 * as `kubectl-breakwater`, found and run by kubectl itself.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot } from '../chart/chartTools.ts';
import { kubectl } from '../support/kube.ts';

export async function kubectlBreakwater(args: readonly string[]): ReturnType<typeof kubectl> {
  const bin = mkdtempSync(join(tmpdir(), 'bw-in-cluster-plugin-'));
  const launcher = join(bin, 'kubectl-breakwater');
  writeFileSync(
    launcher,
    `#!/bin/sh\nexec "${process.execPath}" --no-warnings=ExperimentalWarning "${join(repoRoot, 'plugin/src/main.ts')}" "$@"\n`,
  );
  chmodSync(launcher, 0o755);
  const savedPath = process.env['PATH'];
  process.env['PATH'] = `${bin}${delimiter}${savedPath ?? ''}`;
  try {
    return await kubectl(['breakwater', ...args], { allowFailure: true, timeoutMs: 60_000 });
  } finally {
    process.env['PATH'] = savedPath;
    rmSync(bin, { recursive: true, force: true });
  }
}

/**
 * Installs the generated CRDs on the test cluster, as a user would: server-side apply of
 * crds/*.yaml, then waiting until the API server serves each kind.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectl } from '../support/kube.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../..');

export const crdFiles = readdirSync(join(repoRoot, 'crds'))
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => join(repoRoot, 'crds', name));

/** CRD names, e.g. agentdeployments.breakwater.dev, from the generated file names. */
export const crdNames = crdFiles.map((file) =>
  (file.split('/').pop() ?? '').replace(/^breakwater\.dev_(.*)\.yaml$/, '$1.breakwater.dev'),
);

export async function installCrds(): Promise<void> {
  // --force-conflicts: other suites install the same files; the newest checkout wins.
  await kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager=breakwater-tests',
    ...crdFiles.flatMap((file) => ['-f', file]),
  ]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crdNames.map((name) => `crd/${name}`),
  ]);
}

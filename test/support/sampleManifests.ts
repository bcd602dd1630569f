/**
 * config/samples as `--manifests` reads them, copied to a folder of the test's own with the
 * simulator's address in place of the samples' (port 8787): the README's way to run the runtime
 * from the manifests, on a test's simulator.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SAMPLES = fileURLToPath(new URL('../../config/samples', import.meta.url));
/** What config/samples/provider-key-secret.yaml holds; a simulator started with it accepts no other. */
export const SAMPLE_PROVIDER_KEY = 'sk-ant-placeholder-not-a-real-key';
/** One of the values of config/samples/client-keys-secret.yaml. */
export const SAMPLE_CLIENT_KEY = 'bw-sample-client-key-checkout';
const SAMPLE_BASE_URL = 'http://127.0.0.1:8787';

export interface SampleManifests {
  readonly dir: string;
  remove(): void;
}

export function copySamples(simUrl: string): SampleManifests {
  const dir = mkdtempSync(join(tmpdir(), 'bw-samples-'));
  cpSync(SAMPLES, dir, { recursive: true });
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    writeFileSync(path, readFileSync(path, 'utf8').replaceAll(SAMPLE_BASE_URL, simUrl));
  }
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

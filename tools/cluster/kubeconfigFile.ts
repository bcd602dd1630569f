import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';
import type { KeyPairFiles } from './pki.ts';

export interface KubeconfigSpec {
  readonly clusterName: string;
  readonly server: string;
  readonly caCertFile: string;
  readonly user: string;
  readonly client: KeyPairFiles;
}

/**
 * A kubeconfig with the certificates inlined, so it keeps working when copied elsewhere
 * (a container, another shell) and never points at files that a later `up` replaced.
 */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const data = (file: string): string => readFileSync(file).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: spec.clusterName,
        cluster: { server: spec.server, 'certificate-authority-data': data(spec.caCertFile) },
      },
    ],
    users: [
      {
        name: spec.user,
        user: {
          'client-certificate-data': data(spec.client.cert),
          'client-key-data': data(spec.client.key),
        },
      },
    ],
    contexts: [{ name: spec.clusterName, context: { cluster: spec.clusterName, user: spec.user } }],
    'current-context': spec.clusterName,
    preferences: {},
  });
}

/** Writes atomically: a reader never sees half a kubeconfig. */
export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await writeFile(partial, renderKubeconfig(spec), { mode: 0o600 });
  await rename(partial, path);
}

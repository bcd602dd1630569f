/**
 * config/admission installed as `kubectl apply -k` would, under names of the test's own: the
 * policy is cluster-wide and judges every runtime of every suite, so one left behind by a
 * failed run must be told apart (and it only ever refuses what the shipped one refuses).
 */
import { join } from 'node:path';
import { kubectl } from '../support/kube.ts';
import { parseManifests, repoRoot, type Manifest } from '../chart/chartTools.ts';

export interface InstalledPolicy {
  readonly name: string;
  readonly uninstall: () => Promise<void>;
}

export async function installRuntimePodPolicy(suffix: string): Promise<InstalledPolicy> {
  const { stdout } = await kubectl(['kustomize', join(repoRoot, 'config/admission')]);
  const objects = parseManifests(stdout).map((object): Manifest => {
    const renamed = { ...object, metadata: { name: `${object.metadata.name}${suffix}` } };
    if (object.kind !== 'ValidatingAdmissionPolicyBinding') return renamed;
    const spec = object['spec'] as { policyName: string };
    return { ...renamed, spec: { ...spec, policyName: `${spec.policyName}${suffix}` } };
  });
  const policy = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy');
  if (policy === undefined) throw new Error('config/admission holds no ValidatingAdmissionPolicy');
  await kubectl(['apply', '--server-side', '--field-manager=breakwater-tests', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
  return {
    name: policy.metadata.name,
    uninstall: async () => {
      await kubectl([
        'delete',
        '--ignore-not-found',
        ...objects.map((o) => `${o.kind.toLowerCase()}/${o.metadata.name}`),
      ]);
    },
  };
}

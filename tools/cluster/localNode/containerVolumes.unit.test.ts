import { describe, expect, it } from '@jest/globals';
import { containerMounts, type VolumeDirs } from './containerVolumes.ts';
import type { Pod } from './podTypes.ts';

/** The projected volume the ServiceAccount admission plugin adds to every pod. */
const kubeApiAccess = {
  name: 'kube-api-access-x7k2p',
  projected: {
    defaultMode: 420,
    sources: [
      { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
      { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
        },
      },
    ],
  },
};

const pod = (volumeNames: string[]): Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: {
    volumes: [
      kubeApiAccess,
      { name: 'keys', secret: { secretName: 'keys' } },
      { name: 'prompts', configMap: { name: 'prompts' } },
      { name: 'scratch', emptyDir: {} },
      { name: 'host', hostPath: { path: '/etc' } } as never,
    ],
    containers: [
      {
        name: 'c',
        volumeMounts: volumeNames.map((name) => ({
          name,
          mountPath: `/mnt/${name}`,
          ...(name === 'prompts' ? { subPath: 'system.txt' } : {}),
        })),
      },
    ],
  },
});

const dirs: VolumeDirs = {
  kept: (volume) =>
    volume === 'keys' || volume === 'prompts' ? `/state/volumes/${volume}` : undefined,
  emptyDirRoot: '/state/empty-dirs',
  serviceAccount: '/state/sa/projected',
};

const mountsOf = (names: string[]) => {
  const p = pod(names);
  return containerMounts(p, p.spec.containers[0] ?? { name: '' }, dirs);
};

describe('containerMounts', () => {
  it('mounts Secret, ConfigMap (with subPath), emptyDir and the service-account volume', () => {
    expect(mountsOf(['kube-api-access-x7k2p', 'keys', 'prompts', 'scratch'])).toEqual({
      ok: true,
      mounts: [
        {
          hostPath: '/state/sa/projected',
          mountPath: '/mnt/kube-api-access-x7k2p',
          readOnly: true,
        },
        { hostPath: '/state/volumes/keys', mountPath: '/mnt/keys', readOnly: true },
        {
          hostPath: '/state/volumes/prompts/system.txt',
          mountPath: '/mnt/prompts',
          readOnly: true,
        },
        { hostPath: '/state/empty-dirs/scratch', mountPath: '/mnt/scratch', readOnly: false },
      ],
      emptyDirs: ['/state/empty-dirs/scratch'],
    });
  });

  it('refuses a volume type it cannot mount, naming it', () => {
    expect(mountsOf(['host'])).toEqual({
      ok: false,
      message: expect.stringContaining('volume "host"') as unknown as string,
    });
  });

  it('refuses a mount of a volume the pod does not have', () => {
    expect(mountsOf(['missing'])).toEqual({
      ok: false,
      message: 'volumeMounts "missing": the pod has no volume of that name',
    });
  });
});

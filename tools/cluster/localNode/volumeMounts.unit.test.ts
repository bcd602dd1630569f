import { describe, expect, it } from '@jest/globals';
import type { Container } from './podTypes.ts';
import { hostMounts, translateMountPaths } from './volumeMounts.ts';

const container: Container = {
  name: 'runtime',
  volumeMounts: [
    {
      name: 'client-keys',
      mountPath: '/var/run/secrets/breakwater.dev/client-keys/',
      readOnly: true,
    },
    {
      name: 'nested',
      mountPath: '/var/run/secrets/breakwater.dev/client-keys/extra',
      subPath: 'x',
    },
    { name: 'scratch', mountPath: '/tmp/scratch' },
  ],
};
const volumeDir = (name: string): string | undefined =>
  name === 'scratch' ? undefined : `/state/pods/ns_pod/volumes/${name}`;

describe('hostMounts', () => {
  it('maps each Secret volume mount to its host directory, deepest first, and skips the rest', () => {
    expect(hostMounts(container, volumeDir)).toEqual([
      {
        mountPath: '/var/run/secrets/breakwater.dev/client-keys/extra',
        hostPath: '/state/pods/ns_pod/volumes/nested/x',
      },
      {
        mountPath: '/var/run/secrets/breakwater.dev/client-keys',
        hostPath: '/state/pods/ns_pod/volumes/client-keys',
      },
    ]);
  });
});

describe('translateMountPaths', () => {
  const mounts = hostMounts(container, volumeDir);
  it.each([
    [
      'a mount path',
      '/var/run/secrets/breakwater.dev/client-keys',
      '/state/pods/ns_pod/volumes/client-keys',
    ],
    [
      'a file under it',
      '/var/run/secrets/breakwater.dev/client-keys/a',
      '/state/pods/ns_pod/volumes/client-keys/a',
    ],
    [
      'a path under the deeper mount',
      '/var/run/secrets/breakwater.dev/client-keys/extra/f',
      '/state/pods/ns_pod/volumes/nested/x/f',
    ],
    [
      'a sibling that merely shares a prefix',
      '/var/run/secrets/breakwater.dev/client-keys-old',
      '/var/run/secrets/breakwater.dev/client-keys-old',
    ],
    ['anything else', 'info', 'info'],
  ])('rewrites %s', (_name, value, expected) => {
    expect(translateMountPaths(new Map([['V', value]]), mounts).get('V')).toBe(expected);
  });
});

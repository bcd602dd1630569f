import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { assetVariable, locateFromEnv } from './binaries.ts';
import { isClusterError } from './clusterError.ts';
import { componentCommand, type ComponentCommandInputs } from './componentArgs.ts';
import { clusterLayout, portsFromEnv } from './layout.ts';
import { pkiFiles } from './pki.ts';

describe('ports', () => {
  it('default to ports clear of a real cluster', () => {
    expect(portsFromEnv({})).toEqual({
      etcdClient: 52379,
      etcdPeer: 52380,
      apiserver: 56443,
      controllerManager: 56457,
      scheduler: 56459,
    });
  });

  it('move with their environment variables', () => {
    expect(portsFromEnv({ BREAKWATER_APISERVER_PORT: '6443' }).apiserver).toBe(6443);
  });

  it.each(['0', '70000', 'https', '1.5'])('reject %s, naming the variable', (value) => {
    expect(() => portsFromEnv({ BREAKWATER_ETCD_PORT: value })).toThrow(
      `BREAKWATER_ETCD_PORT=${value} is not a TCP port`,
    );
  });
});

describe('binaries from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-assets-'));
  const executable = (name: string): string => {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/sh\n');
    chmodSync(path, 0o755);
    return path;
  };

  it('use the envtest variable names', () => {
    expect(assetVariable('kube-apiserver')).toBe('TEST_ASSET_KUBE_APISERVER');
    expect(assetVariable('etcd')).toBe('TEST_ASSET_ETCD');
  });

  it('prefer TEST_ASSET_* over KUBEBUILDER_ASSETS, as envtest does', () => {
    executable('kube-apiserver');
    const own = executable('my-apiserver');
    expect(
      locateFromEnv('kube-apiserver', {
        TEST_ASSET_KUBE_APISERVER: own,
        KUBEBUILDER_ASSETS: dir,
      }),
    ).toEqual({ path: own, source: 'TEST_ASSET_KUBE_APISERVER' });
  });

  it('take a binary from KUBEBUILDER_ASSETS when it is there', () => {
    const path = executable('kube-scheduler');
    expect(locateFromEnv('kube-scheduler', { KUBEBUILDER_ASSETS: dir })).toEqual({
      path,
      source: 'KUBEBUILDER_ASSETS',
    });
  });

  it('leave a binary that KUBEBUILDER_ASSETS lacks to the build', () => {
    expect(locateFromEnv('kube-controller-manager', { KUBEBUILDER_ASSETS: dir })).toBeUndefined();
    expect(locateFromEnv('etcd', {})).toBeUndefined();
  });

  it('refuse a TEST_ASSET_* that is not an executable file', () => {
    const plain = join(dir, 'not-executable');
    writeFileSync(plain, '');
    let thrown: unknown;
    try {
      locateFromEnv('etcd', { TEST_ASSET_ETCD: plain });
    } catch (error: unknown) {
      thrown = error;
    }
    expect(isClusterError(thrown) && thrown.code).toBe('BinariesUnavailable');
    expect((thrown as Error).message).toContain(`TEST_ASSET_ETCD=${plain}`);
  });
});

describe('component command lines', () => {
  const layout = clusterLayout('/repo');
  const inputs: ComponentCommandInputs = {
    layout,
    ports: portsFromEnv({}),
    pki: pkiFiles(layout.pkiDir),
    binaries: {
      etcd: '/bin/etcd',
      'kube-apiserver': '/bin/kube-apiserver',
      'kube-controller-manager': '/bin/kube-controller-manager',
      'kube-scheduler': '/bin/kube-scheduler',
    },
  };

  it.each([
    ['kube-apiserver', '--authorization-mode=Node,RBAC'],
    ['kube-apiserver', '--service-cluster-ip-range=10.0.0.0/24'],
    ['kube-apiserver', '--service-account-issuer=https://kubernetes.default.svc.cluster.local'],
    ['kube-apiserver', '--service-account-signing-key-file=/repo/.breakwater/cluster/pki/sa.key'],
    ['kube-apiserver', '--secure-port=56443'],
    ['kube-controller-manager', '--use-service-account-credentials=true'],
    [
      'kube-controller-manager',
      '--service-account-private-key-file=/repo/.breakwater/cluster/pki/sa.key',
    ],
    ['kube-controller-manager', '--root-ca-file=/repo/.breakwater/cluster/pki/ca.crt'],
    ['kube-controller-manager', '--leader-elect=false'],
    ['kube-scheduler', '--leader-elect=false'],
    ['etcd', '--listen-client-urls=http://127.0.0.1:52379'],
  ] as const)('%s runs with %s', (component, flag) => {
    expect(componentCommand(component, inputs).args).toContain(flag);
  });

  it('keeps the API server on loopback without a node', () => {
    const args = componentCommand('kube-apiserver', inputs).args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
      ]),
    );
  });

  it('lets pods reach the API server through the kubernetes Service with the real node', () => {
    const args = componentCommand('kube-apiserver', {
      ...inputs,
      realNodeAddress: '192.0.2.2',
    }).args;
    expect(args).toEqual(
      expect.arrayContaining([
        '--bind-address=0.0.0.0',
        '--advertise-address=192.0.2.2',
        '--kubelet-preferred-address-types=InternalIP',
      ]),
    );
    expect(args).not.toContain('--endpoint-reconciler-type=none');
  });

  it('claims every port a component listens on, with the variable that moves it', () => {
    expect(componentCommand('etcd', inputs).ports).toEqual([
      { port: 52379, purpose: 'etcd client port', variable: 'BREAKWATER_ETCD_PORT' },
      { port: 52380, purpose: 'etcd peer port', variable: 'BREAKWATER_ETCD_PEER_PORT' },
    ]);
  });
});

import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { renderKubeconfig } from './kubeconfigFile.ts';
import { generatePki, pkiIsUsable, type PkiFiles } from './pki.ts';

describe('the cluster PKI', () => {
  let pki: PkiFiles;
  const certificate = (file: string): X509Certificate => new X509Certificate(readFileSync(file));

  beforeAll(async () => {
    pki = await generatePki(join(mkdtempSync(join(tmpdir(), 'breakwater-pki-')), 'pki'));
  });

  it('serves the API server under every name a client may use', () => {
    const names = certificate(pki.leaf('apiserver').cert).subjectAltName ?? '';
    for (const name of [
      'IP Address:127.0.0.1',
      'DNS:localhost',
      'IP Address:10.0.0.1',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ]) {
      expect(names).toContain(name);
    }
  });

  it.each([
    ['admin', 'O=system:masters\nCN=breakwater-admin'],
    ['controller-manager', 'CN=system:kube-controller-manager'],
    ['scheduler', 'CN=system:kube-scheduler'],
  ] as const)('gives %s the identity %j', (leaf, subject) => {
    expect(certificate(pki.leaf(leaf).cert).subject).toBe(subject);
  });

  it('signs every certificate with the cluster CA, and the front proxy with its own', () => {
    const ca = certificate(pki.ca.cert);
    expect(certificate(pki.leaf('admin').cert).verify(ca.publicKey)).toBe(true);
    expect(certificate(pki.leaf('apiserver').cert).verify(ca.publicKey)).toBe(true);
    const frontProxy = certificate(pki.leaf('front-proxy-client').cert);
    expect(frontProxy.verify(certificate(pki.frontProxyCa.cert).publicKey)).toBe(true);
    expect(frontProxy.verify(ca.publicKey)).toBe(false);
  });

  it('is renewed when a certificate is within 30 days of expiry', () => {
    expect(pkiIsUsable(pki)).toBe(true);
    const expiry = Date.parse(certificate(pki.leaf('admin').cert).validTo);
    expect(pkiIsUsable(pki, expiry - 29 * 24 * 3600 * 1000)).toBe(false);
  });

  it('yields an admin kubeconfig that client-node reads, certificates inlined', () => {
    const config = new KubeConfig();
    config.loadFromString(
      renderKubeconfig({
        clusterName: 'breakwater-local',
        server: 'https://127.0.0.1:56443',
        caCertFile: pki.ca.cert,
        user: 'breakwater-admin',
        client: pki.leaf('admin'),
      }),
    );
    expect(config.getCurrentCluster()?.server).toBe('https://127.0.0.1:56443');
    expect(config.getCurrentUser()?.certData).toBe(
      readFileSync(pki.leaf('admin').cert).toString('base64'),
    );
  });
});

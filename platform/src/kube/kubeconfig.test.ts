import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kubeconfig } from './kubeconfig.ts';

let dir: string;
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const text = (value: unknown): unknown => (Buffer.isBuffer(value) ? value.toString() : value);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeconfig-test-'));
  writeFileSync(join(dir, 'client.crt'), 'CERT FROM FILE');
  writeFileSync(join(dir, 'token'), 'token-from-file\n');
  writeFileSync(join(dir, 'ca.crt'), 'CA FROM FILE');
  writeFileSync(
    join(dir, 'certs.yaml'),
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: local',
      'clusters:',
      '  - name: local',
      '    cluster:',
      '      server: https://127.0.0.1:6443',
      `      certificate-authority-data: ${b64('CA DATA')}`,
      '      tls-server-name: kubernetes',
      'users:',
      '  - name: admin',
      '    user:',
      '      client-certificate: client.crt',
      `      client-key-data: ${b64('KEY DATA')}`,
      'contexts:',
      '  - name: local',
      '    context: {cluster: local, user: admin}',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'token.json'),
    JSON.stringify({
      'current-context': 'remote',
      clusters: [
        {
          name: 'remote',
          cluster: { server: 'https://remote:443', 'insecure-skip-tls-verify': true },
        },
      ],
      users: [{ name: 'bot', user: { tokenFile: 'token' } }],
      contexts: [{ name: 'remote', context: { cluster: 'remote', user: 'bot' } }],
    }),
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function optionsOf(config: Kubeconfig): Promise<RequestOptions> {
  const options: RequestOptions = {};
  await config.applyToHTTPSOptions(options);
  return options;
}

describe('Kubeconfig', () => {
  it('reads client certificates from data and from files relative to the kubeconfig', async () => {
    const config = Kubeconfig.fromFiles([join(dir, 'certs.yaml')]);
    expect(config.getCurrentCluster().server).toBe('https://127.0.0.1:6443');
    const options = await optionsOf(config);
    expect(text(options.ca)).toBe('CA DATA');
    expect(text(options.cert)).toBe('CERT FROM FILE');
    expect(text(options.key)).toBe('KEY DATA');
    expect(options.servername).toBe('kubernetes');
    expect(options.rejectUnauthorized).toBeUndefined();
    expect(options.headers).toEqual({});
  });

  it('sends the token of a token file as a bearer token and honours skip-verify', async () => {
    const options = await optionsOf(Kubeconfig.fromFiles([join(dir, 'token.json')]));
    expect(options.headers).toEqual({ authorization: 'Bearer token-from-file' });
    expect(options.rejectUnauthorized).toBe(false);
  });

  it('takes the current context from the first of several files and names from any', () => {
    const config = Kubeconfig.fromFiles([join(dir, 'token.json'), join(dir, 'certs.yaml')]);
    expect(config.getCurrentCluster().server).toBe('https://remote:443');
  });

  it('uses the context --context names instead of the current one, with its namespace', () => {
    const paths = [join(dir, 'token.json'), join(dir, 'certs.yaml')];
    const config = Kubeconfig.fromFiles(paths, { context: 'local' });
    expect(config.getCurrentCluster().server).toBe('https://127.0.0.1:6443');
    expect(config.namespace).toBeUndefined();
    expect(() => Kubeconfig.fromFiles(paths, { context: 'elsewhere' })).toThrow(
      /no context named elsewhere/,
    );
    const withNamespace = join(dir, 'namespaced.json');
    writeFileSync(
      withNamespace,
      JSON.stringify({
        'current-context': 'ops',
        clusters: [{ name: 'c', cluster: { server: 'https://c:443' } }],
        contexts: [{ name: 'ops', context: { cluster: 'c', user: 'u', namespace: 'payments' } }],
      }),
    );
    expect(Kubeconfig.fromFiles([withNamespace]).namespace).toBe('payments');
  });

  it('reads a pod’s service account: its token, the cluster CA and the service address', async () => {
    const saved = { ...process.env };
    process.env['KUBERNETES_SERVICE_HOST'] = 'fd00::1';
    process.env['KUBERNETES_SERVICE_PORT'] = '443';
    try {
      const config = Kubeconfig.inCluster(dir);
      expect(config.getCurrentCluster().server).toBe('https://[fd00::1]:443');
      const options = await optionsOf(config);
      expect(text(options.ca)).toBe('CA FROM FILE');
      expect(options.headers).toEqual({ authorization: 'Bearer token-from-file' });
    } finally {
      process.env = saved;
    }
  });

  it('names the missing piece when the current context is unknown', () => {
    const path = join(dir, 'empty.json');
    writeFileSync(path, JSON.stringify({ 'current-context': 'nowhere' }));
    expect(() => Kubeconfig.fromFiles([path])).toThrow(/no current context/);
  });
});

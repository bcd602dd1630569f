import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import {
  BACKEND_CREDENTIALS_DIR_ENV,
  DURABILITY_PASSWORD_FILE_ENV,
  MCP_HEADERS_DIR_ENV,
  RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import { ManifestMounts, type SecretObject } from './manifestMounts.ts';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function mounts(env: Record<string, string> = {}): { mounts: ManifestMounts; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'bw-mounts-test-'));
  roots.push(root);
  return { mounts: new ManifestMounts(env, root), root };
}

/** The parts of a document the mounts read. */
const doc = (change: Partial<Record<keyof PolicyDocument, unknown>> = {}) =>
  ({
    backends: [{ name: 'bedrock-us', type: 'Bedrock', credentialsSecret: 'aws' }],
    mcpServers: [{ name: 'tickets', headersSecret: 'tickets-headers' }],
    rateLimit: { store: { redis: { passwordSecretRef: { name: 'redis', key: 'password' } } } },
    durability: { store: { redis: { passwordSecretRef: { name: 'redis', key: 'password' } } } },
    ...change,
  }) as unknown as PolicyDocument;

const secrets: Record<string, SecretObject> = {
  aws: {
    data: { AWS_ACCESS_KEY_ID: Buffer.from('AKID').toString('base64') },
    stringData: { AWS_SECRET_ACCESS_KEY: 'shh' },
  },
  'tickets-headers': { stringData: { authorization: 'Bearer t', '..': 'escape' } },
  redis: { stringData: { password: 'pw' } },
};

describe('ManifestMounts', () => {
  it("writes each Secret where the pod's mount would put it, private to the process", () => {
    const { mounts: m, root } = mounts();
    m.write(doc(), (name) => secrets[name]);
    const backend = m.env[BACKEND_CREDENTIALS_DIR_ENV] ?? '';
    expect(readFileSync(join(backend, 'bedrock-us', 'AWS_ACCESS_KEY_ID'), 'utf8')).toBe('AKID');
    expect(readFileSync(join(backend, 'bedrock-us', 'AWS_SECRET_ACCESS_KEY'), 'utf8')).toBe('shh');
    // A key that names no file in the directory is left out.
    expect(readdirSync(join(m.env[MCP_HEADERS_DIR_ENV] ?? '', 'tickets'))).toEqual([
      'authorization',
    ]);
    expect(readFileSync(m.env[RATE_LIMIT_STORE_PASSWORD_FILE_ENV] ?? '', 'utf8')).toBe('pw');
    expect(readFileSync(m.env[DURABILITY_PASSWORD_FILE_ENV] ?? '', 'utf8')).toBe('pw');
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(backend, 'bedrock-us', 'AWS_SECRET_ACCESS_KEY')).mode & 0o777).toBe(0o600);
  });

  it('drops a key the Secret no longer holds, and the file of a Secret no longer there', () => {
    const { mounts: m } = mounts();
    m.write(doc(), (name) => secrets[name]);
    m.write(doc(), (name) =>
      name === 'aws' ? { stringData: { AWS_SECRET_ACCESS_KEY: 'new' } } : undefined,
    );
    const dir = join(m.env[BACKEND_CREDENTIALS_DIR_ENV] ?? '', 'bedrock-us');
    expect(readdirSync(dir)).toEqual(['AWS_SECRET_ACCESS_KEY']);
    expect(readFileSync(join(dir, 'AWS_SECRET_ACCESS_KEY'), 'utf8')).toBe('new');
    expect(existsSync(m.env[RATE_LIMIT_STORE_PASSWORD_FILE_ENV] ?? '')).toBe(false);
  });

  it('leaves a file the environment names alone, and removes its own directory', () => {
    const { mounts: m, root } = mounts({ [RATE_LIMIT_STORE_PASSWORD_FILE_ENV]: '/etc/given' });
    expect(m.env[RATE_LIMIT_STORE_PASSWORD_FILE_ENV]).toBe('/etc/given');
    m.write(doc(), (name) => secrets[name]);
    expect(readdirSync(root).sort()).toEqual(['backends', 'durability', 'mcp']);
    m.remove();
    expect(existsSync(root)).toBe(false);
  });

  it('removes the directories of runtimes that died with theirs, and no other', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'bw-mounts-parent-'));
    roots.push(parent);
    // A process that has ended, one that still runs, and this one.
    const ended = spawnSync('/bin/true').pid;
    const sleeper = spawn('/bin/sleep', ['30']);
    const alive = sleeper.pid ?? 0;
    const make = (name: string) => {
      mkdirSync(join(parent, name, 'backends'), { recursive: true });
      writeFileSync(join(parent, name, 'backends', 'key'), 'secret');
      return name;
    };
    const orphan = make(`breakwater-secrets-${String(ended)}-a1b2c3`);
    const kept = [
      make(`breakwater-secrets-${String(alive)}-d4e5f6`),
      make(`breakwater-secrets-${String(process.pid)}-g7h8i9`),
      make('breakwater-secrets-x-j0k1l2'),
      make('someone-else'),
    ];
    try {
      const m = ManifestMounts.create({}, parent);
      const made = readdirSync(parent).filter((name) => !kept.includes(name));
      expect(made).toHaveLength(1);
      expect(made[0]).toMatch(new RegExp(`^breakwater-secrets-${String(process.pid)}-`));
      expect(existsSync(join(parent, orphan))).toBe(false);
      for (const name of kept) expect(existsSync(join(parent, name, 'backends', 'key'))).toBe(true);
      m.remove();
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
  });
});

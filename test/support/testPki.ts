import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A test's own certificate authority, made the way envtest makes a cluster's: one CA signs a
 * serving certificate for an API server front and a client certificate for an admin. Keys come
 * from node:crypto (EC P-256); openssl signs the certificates. test/runtime's certificate
 * rotation makes two and swaps them under a running client.
 */
export type LeafName = 'apiserver' | 'admin';

interface LeafSpec {
  readonly name: string;
  readonly subject: string;
  readonly usage: 'serverAuth' | 'clientAuth';
  readonly sans?: readonly string[];
}

const loopbackSans = ['IP:127.0.0.1', 'DNS:localhost'];

const leaves: readonly (LeafSpec & { readonly name: LeafName })[] = [
  {
    name: 'apiserver',
    subject: '/CN=kube-apiserver',
    usage: 'serverAuth',
    sans: [
      ...loopbackSans,
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
  },
  { name: 'admin', subject: '/O=system:masters/CN=breakwater-admin', usage: 'clientAuth' },
];

export interface KeyPairFiles {
  readonly cert: string;
  readonly key: string;
}

export interface PkiFiles {
  readonly dir: string;
  readonly ca: KeyPairFiles;
  leaf(name: LeafName): KeyPairFiles;
}

export function pkiFiles(dir: string): PkiFiles {
  return {
    dir,
    ca: { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') },
    leaf: (name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }),
  };
}

const validityDays = 365;

/** Makes a fresh CA and every certificate and key, replacing whatever `dir` held. */
export async function generatePki(dir: string): Promise<PkiFiles> {
  const staging = `${dir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const files = pkiFiles(staging);

  await makeCa(files.ca, '/CN=breakwater-test-ca');
  await Promise.all(leaves.map((leaf) => signLeaf(files, leaf)));

  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return pkiFiles(dir);
}

async function makeCa(pair: KeyPairFiles, subject: string): Promise<void> {
  await writeKey(pair.key);
  const config = `${pair.key}.cnf`;
  const extensions = [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
  ];
  await writeFile(config, opensslConfig(extensions));
  const days = String(validityDays * 10);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    config,
    '-extensions',
    'ext',
    '-key',
    pair.key,
    '-subj',
    subject,
    '-days',
    days,
    '-sha256',
    '-out',
    pair.cert,
  ]);
  await rm(config);
}

async function signLeaf(files: PkiFiles, leaf: LeafSpec): Promise<void> {
  const { cert, key } = {
    cert: join(files.dir, `${leaf.name}.crt`),
    key: join(files.dir, `${leaf.name}.key`),
  };
  const { ca } = files;
  const config = join(files.dir, `${leaf.name}.cnf`);
  const csr = join(files.dir, `${leaf.name}.csr`);
  const extensions = [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    `extendedKeyUsage = ${leaf.usage}`,
    'authorityKeyIdentifier = keyid',
  ];
  if (leaf.sans !== undefined) extensions.push(`subjectAltName = ${leaf.sans.join(', ')}`);
  await writeFile(config, opensslConfig(extensions));
  await writeKey(key);
  await openssl([
    'req',
    '-new',
    '-config',
    config,
    '-key',
    key,
    '-subj',
    leaf.subject,
    '-out',
    csr,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    String(validityDays),
    '-sha256',
    '-extfile',
    config,
    '-extensions',
    'ext',
    '-out',
    cert,
  ]);
  await Promise.all([rm(config), rm(csr)]);
}

async function writeKey(path: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

/** A self-contained config, so the system's openssl.cnf cannot add or change extensions. */
function opensslConfig(extensions: readonly string[]): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    'CN = placeholder',
    '[ext]',
    ...extensions,
    '',
  ].join('\n');
}

const execFileAsync = promisify(execFile);

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'openssl is not installed; the test needs it to make its certificates ' +
          '(Debian/Ubuntu: apt-get install openssl)',
      );
    }
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr.trim()}`);
  }
}

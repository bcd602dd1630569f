import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClusterError } from './clusterError.ts';
import { kubernetesServiceIp } from './layout.ts';

/**
 * The cluster's certificates, made the way envtest makes them: one CA signs a serving
 * certificate for the API server and a client certificate per identity. Keys come from
 * node:crypto (EC P-256 for TLS, RSA for service-account tokens, as RS256 is what every
 * token consumer understands); openssl signs the certificates.
 */
export type LeafName =
  | 'apiserver'
  | 'admin'
  | 'controller-manager'
  | 'scheduler'
  | 'apiserver-kubelet-client'
  | 'controller-manager-serving'
  | 'scheduler-serving'
  | 'front-proxy-client';

interface LeafSpec {
  readonly name: string;
  /** The front-proxy CA signs only the aggregation layer's client, as kubeadm does. */
  readonly issuer?: 'front-proxy-ca';
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
      `IP:${kubernetesServiceIp}`,
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
  },
  { name: 'admin', subject: '/O=system:masters/CN=breakwater-admin', usage: 'clientAuth' },
  {
    name: 'controller-manager',
    subject: '/CN=system:kube-controller-manager',
    usage: 'clientAuth',
  },
  { name: 'scheduler', subject: '/CN=system:kube-scheduler', usage: 'clientAuth' },
  // The API server's identity towards the node (logs, exec, port-forward).
  {
    name: 'apiserver-kubelet-client',
    subject: '/O=system:masters/CN=kube-apiserver-kubelet-client',
    usage: 'clientAuth',
  },
  // Serving certificates for the components' health ports, so probes verify them too.
  {
    name: 'controller-manager-serving',
    subject: '/CN=kube-controller-manager',
    usage: 'serverAuth',
    sans: loopbackSans,
  },
  {
    name: 'scheduler-serving',
    subject: '/CN=kube-scheduler',
    usage: 'serverAuth',
    sans: loopbackSans,
  },
  // The API server's identity towards aggregated API servers (metrics-server, for the HPA).
  {
    name: 'front-proxy-client',
    issuer: 'front-proxy-ca',
    subject: '/CN=front-proxy-client',
    usage: 'clientAuth',
  },
];

export interface KeyPairFiles {
  readonly cert: string;
  readonly key: string;
}

export interface PkiFiles {
  readonly dir: string;
  readonly ca: KeyPairFiles;
  /** Trusted by the API server for requests that aggregated API servers proxy. */
  readonly frontProxyCa: KeyPairFiles;
  readonly serviceAccountKey: string;
  readonly serviceAccountPublicKey: string;
  leaf(name: LeafName): KeyPairFiles;
}

export function pkiFiles(dir: string): PkiFiles {
  return {
    dir,
    ca: { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') },
    frontProxyCa: { cert: join(dir, 'front-proxy-ca.crt'), key: join(dir, 'front-proxy-ca.key') },
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPublicKey: join(dir, 'sa.pub'),
    leaf: (name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }),
  };
}

const validityDays = 365;
/** Certificates this close to expiry are made anew. */
const renewBeforeMs = 30 * 24 * 3600 * 1000;

/** True when every file is there and no certificate is about to expire. */
export function pkiIsUsable(files: PkiFiles, now: number = Date.now()): boolean {
  const cas = [files.ca, files.frontProxyCa];
  const certs = [...cas, ...leaves.map((leaf) => files.leaf(leaf.name))].map((pair) => pair.cert);
  const keys = [...cas, ...leaves.map((leaf) => files.leaf(leaf.name))].map((pair) => pair.key);
  const all = [...certs, ...keys, files.serviceAccountKey, files.serviceAccountPublicKey];
  if (!all.every((file) => existsSync(file))) return false;
  try {
    return certs.every(
      (file) => Date.parse(new X509Certificate(readFileSync(file)).validTo) - now > renewBeforeMs,
    );
  } catch {
    return false;
  }
}

/** Makes a fresh CA and every certificate and key, replacing whatever `dir` held. */
export async function generatePki(dir: string): Promise<PkiFiles> {
  const staging = `${dir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const files = pkiFiles(staging);

  const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(
    files.serviceAccountKey,
    serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    { mode: 0o600 },
  );
  await writeFile(
    files.serviceAccountPublicKey,
    serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }),
  );

  await Promise.all([
    makeCa(files.ca, '/CN=breakwater-local-ca'),
    makeCa(files.frontProxyCa, '/CN=breakwater-front-proxy-ca'),
  ]);
  await Promise.all(leaves.map((leaf) => signLeaf(files, leaf)));

  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return pkiFiles(dir);
}

/** A client certificate that only some clusters need (the real node's kubelet and kube-proxy). */
export interface ClientCertificateSpec {
  /** File name without extension: `kubelet-client` makes `kubelet-client.crt` and `.key`. */
  readonly name: string;
  /** `/O=system:nodes/CN=system:node:breakwater-node`. */
  readonly subject: string;
}

/**
 * Signs a client certificate with the cluster's CA into `outDir`, unless one signed by that CA
 * and far from expiry is already there. The CA's own set (`pkiIsUsable`) stays as it is, so a
 * cluster that never needs these never makes them.
 */
export async function ensureClientCertificate(
  files: PkiFiles,
  outDir: string,
  spec: ClientCertificateSpec,
  now: number = Date.now(),
): Promise<KeyPairFiles> {
  const pair = { cert: join(outDir, `${spec.name}.crt`), key: join(outDir, `${spec.name}.key`) };
  if (existsSync(pair.cert) && existsSync(pair.key)) {
    try {
      const cert = new X509Certificate(readFileSync(pair.cert));
      const ca = new X509Certificate(readFileSync(files.ca.cert));
      if (
        cert.checkIssued(ca) &&
        cert.verify(ca.publicKey) &&
        Date.parse(cert.validTo) - now > renewBeforeMs
      ) {
        return pair;
      }
    } catch {
      // Unreadable: made anew below.
    }
  }
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await signLeaf(
    { ...files, dir: outDir },
    { name: spec.name, subject: spec.subject, usage: 'clientAuth' },
  );
  return pair;
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
  const ca = leaf.issuer === 'front-proxy-ca' ? files.frontProxyCa : files.ca;
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
      throw new ClusterError(
        'ToolMissing',
        'openssl is not installed; the local cluster needs it to make its certificates ' +
          '(Debian/Ubuntu: apt-get install openssl)',
        { component: 'openssl' },
      );
    }
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new ClusterError('ToolMissing', `openssl ${args[0] ?? ''} failed: ${stderr.trim()}`, {
      component: 'openssl',
    });
  }
}

/**
 * The Kubernetes client follows rotated certificate, key and CA files. An informer watches
 * ConfigMaps of the real API server through a TLS front of this test's own: the front serves
 * a certificate of one CA and asks for a client certificate of the same CA, and forwards
 * every request, watches included, to the API server. Then everything is rotated to a second
 * CA, the way a restart with new certificates looks to a client: the front's certificate and
 * the CA it trusts change and its connections drop, while the client's CA, certificate and key
 * files are replaced on disk, the key last. The informer must keep up without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import {
  Agent as HttpsAgent,
  createServer,
  request as httpsRequest,
  type RequestOptions,
  type Server,
} from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Informer } from '../../platform/src/kube/informer.ts';
import { HttpKubeClient } from '../../platform/src/kube/httpKubeClient.ts';
import { Kubeconfig } from '../../platform/src/kube/kubeconfig.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { generatePki, type PkiFiles } from '../support/testPki.ts';
import { api } from '../support/breakwaterCluster.ts';
import { kubeconfigPath, uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';

interface Pki {
  readonly files: PkiFiles;
  /** SHA-256 fingerprint of its `admin` client certificate, as a TLS server reports it. */
  readonly adminFingerprint: string;
}

let dir: string;
let first: Pki;
let second: Pki;
let front: Server;
let namespace: TestNamespace;
/** The client certificate presented on each TLS connection the front accepted, in order. */
const presented: string[] = [];
const openSockets = new Set<Socket>();
/** TCP connections the front accepted: the client has chosen its TLS material for each. */
let accepted = 0;

/** The client's kubeconfig files, replaced in place as a rotation does. */
const clientFiles = () => ({
  ca: join(dir, 'client', 'ca.crt'),
  cert: join(dir, 'client', 'client.crt'),
  key: join(dir, 'client', 'client.key'),
});

function install(source: string, target: string): void {
  copyFileSync(source, `${target}.new`);
  renameSync(`${target}.new`, target);
}

async function makePki(name: string): Promise<Pki> {
  const files = await generatePki(join(dir, name));
  const admin = new X509Certificate(readFileSync(files.leaf('admin').cert));
  return { files, adminFingerprint: admin.fingerprint256 };
}

function serving(pki: Pki) {
  return {
    cert: readFileSync(pki.files.leaf('apiserver').cert),
    key: readFileSync(pki.files.leaf('apiserver').key),
    ca: readFileSync(pki.files.ca.cert),
  };
}

/** The TLS front: forwards every request to the API server with the cluster's admin identity. */
async function startFront(pki: Pki): Promise<Server> {
  const upstream = Kubeconfig.fromFiles([kubeconfigPath()]);
  const target = new URL(upstream.getCurrentCluster().server);
  const credentials: RequestOptions = { headers: {} };
  await upstream.applyToHTTPSOptions(credentials);
  const agent = new HttpsAgent({
    keepAlive: true,
    ca: credentials.ca,
    cert: credentials.cert,
    key: credentials.key,
  });
  const server = createServer({ ...serving(pki), requestCert: true, rejectUnauthorized: true });
  server.on('secureConnection', (socket: TLSSocket) => {
    presented.push(socket.getPeerCertificate().fingerprint256);
  });
  server.on('connection', (socket: Socket) => {
    accepted++;
    openSockets.add(socket);
    socket.once('close', () => openSockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const headers = { ...req.headers, ...(credentials.headers as Record<string, string>) };
    delete headers.host;
    const forwarded = httpsRequest(
      {
        protocol: 'https:',
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    res.on('close', () => forwarded.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function writeClientKubeconfig(port: number): string {
  const path = join(dir, 'client', 'kubeconfig.json');
  const files = clientFiles();
  writeFileSync(
    path,
    JSON.stringify({
      'current-context': 'front',
      clusters: [
        {
          name: 'front',
          cluster: {
            server: `https://127.0.0.1:${String(port)}`,
            'certificate-authority': files.ca,
          },
        },
      ],
      users: [
        { name: 'rotating', user: { 'client-certificate': files.cert, 'client-key': files.key } },
      ],
      contexts: [{ name: 'front', context: { cluster: 'front', user: 'rotating' } }],
    }),
  );
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bw-rotation-'));
  [first, second] = await Promise.all([makePki('first'), makePki('second')]);
  mkdirSync(join(dir, 'client'));
  const files = clientFiles();
  install(first.files.ca.cert, files.ca);
  install(first.files.leaf('admin').cert, files.cert);
  install(first.files.leaf('admin').key, files.key);
  front = await startFront(first);
  namespace = await uniqueNamespace('bw-rotation');
}, 60_000);

afterAll(async () => {
  for (const socket of openSockets) socket.destroy();
  await new Promise((resolve) => front.close(resolve));
  await namespace.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const configMap = (name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: namespace.name },
  data: { rotated: name },
});

describe('an informer whose certificates rotate under it', () => {
  it('trusts the new CA and presents the new certificate on its next connections, without a restart', async () => {
    const port = (front.address() as AddressInfo).port;
    const client = new HttpKubeClient(Kubeconfig.fromFiles([writeClientKubeconfig(port)]));
    const informer = new Informer<KubeObject>({
      client,
      kind: Kinds.ConfigMap,
      namespace: namespace.name,
      backoffInitialMs: 50,
      backoffMaxMs: 500,
    });
    try {
      await informer.start();
      await api().create(Kinds.ConfigMap, configMap('before-rotation'));
      await waitFor(() => informer.get(`${namespace.name}/before-rotation`) !== undefined, {
        timeoutMs: 10_000,
        description: 'the informer to see ConfigMap before-rotation through the first CA',
      });
      expect(new Set(presented)).toEqual(new Set([first.adminFingerprint]));
      const connectionsBefore = presented.length;

      // The rotation: the server side at once, the client's files one after another.
      const files = clientFiles();
      front.setSecureContext(serving(second));
      install(second.files.ca.cert, files.ca);
      install(second.files.leaf('admin').cert, files.cert);
      const acceptedAtRotation = accepted;
      for (const socket of openSockets) socket.destroy();
      const rotatedAt = Date.now();
      // A certificate without its key makes no TLS context: the client keeps the old set. The
      // informer reconnects at once; its next connection is made from the half-rotated files.
      await waitFor(
        () => {
          if (accepted > acceptedAtRotation) return true;
          throw new Error(`${String(accepted)} connection(s) in all, none since the rotation`);
        },
        {
          timeoutMs: 10_000,
          intervalMs: 20,
          description: 'the informer to connect again while the key is still the old one',
        },
      );
      install(second.files.leaf('admin').key, files.key);

      await api().create(Kinds.ConfigMap, configMap('after-rotation'));
      await waitFor(() => informer.get(`${namespace.name}/after-rotation`) !== undefined, {
        timeoutMs: 15_000,
        description: 'the informer to see ConfigMap after-rotation through the second CA',
      });
      const recoveredMs = Date.now() - rotatedAt;
      const after = presented.slice(connectionsBefore);
      process.stdout.write(
        `rotation: ${String(connectionsBefore)} TLS connection(s) before, ${String(after.length)} after; ` +
          `the informer saw the new ConfigMap ${String(recoveredMs)} ms after the rotation\n`,
      );
      expect(after).toContain(second.adminFingerprint);
      expect(after.at(-1)).toBe(second.adminFingerprint);
    } finally {
      await informer.stop();
    }
  });
});

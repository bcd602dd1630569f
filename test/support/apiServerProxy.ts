/**
 * A TCP proxy in front of the test cluster's API server, with a kubeconfig that points at it,
 * so that a test can take the API server away from one process without touching the cluster
 * every other test shares:
 *
 * - `stopAnswering()`: connections stay open and new ones are accepted, but nothing a client
 *   sends reaches the server any more (a partition, a server stuck on etcd); what the server
 *   was already sending, such as watch events, still arrives.
 * - `refuse()`: every connection is cut and the port closes (a server that is gone).
 *
 * TLS passes through untouched; the kubeconfig keeps the server's name for verification.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP, createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kubeconfigPath } from './kube.ts';

export interface ApiServerProxy {
  /** A kubeconfig with the test cluster's credentials and this proxy as its server. */
  readonly kubeconfig: string;
  stopAnswering(): void;
  /** Resolves once a client has sent something that `stopAnswering()` kept from the server. */
  requestHeld(): Promise<void>;
  refuse(): Promise<void>;
  /** Refuses, and deletes the kubeconfig (it holds a copy of the cluster's credentials). */
  close(): Promise<void>;
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string } }[];
  clusters?: { name: string; cluster: { server: string; 'tls-server-name'?: string } }[];
}

export async function startApiServerProxy(): Promise<ApiServerProxy> {
  const config = parse(readFileSync(kubeconfigPath(), 'utf8')) as KubeconfigFile;
  const context = config.contexts?.find((c) => c.name === config['current-context']);
  const cluster = config.clusters?.find((c) => c.name === context?.context.cluster)?.cluster;
  if (cluster === undefined) throw new Error(`${kubeconfigPath()} has no current cluster`);
  const upstream = new URL(cluster.server);
  const upstreamPort = Number(upstream.port || (upstream.protocol === 'https:' ? 443 : 80));

  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  let answering = true;
  let held = false;
  const heldWaiters: (() => void)[] = [];
  const hold = (): void => {
    held = true;
    for (const resolve of heldWaiters.splice(0)) resolve();
  };

  const server = createServer((client) => {
    track(client);
    if (!answering) {
      client.on('data', hold);
      return;
    }
    const target = connect({ host: upstream.hostname, port: upstreamPort });
    track(target);
    client.on('data', (chunk) => {
      if (answering) target.write(chunk);
      else hold();
    });
    target.on('data', (chunk) => client.write(chunk));
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the proxy has no port');

  cluster.server = `${upstream.protocol}//127.0.0.1:${String(address.port)}`;
  // An IP is verified as itself; a name has to be asked for (SNI) and checked explicitly.
  if (isIP(upstream.hostname) === 0) cluster['tls-server-name'] ??= upstream.hostname;
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-proxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify(config), { mode: 0o600 });

  const refuse = async (): Promise<void> => {
    answering = false;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    kubeconfig,
    stopAnswering: () => {
      answering = false;
      held = false;
    },
    requestHeld: () =>
      held ? Promise.resolve() : new Promise((resolve) => heldWaiters.push(resolve)),
    refuse,
    close: async () => {
      await refuse();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { HttpKubeClient } from './httpKubeClient.ts';
import { isKubeApiError } from './kubeClient.ts';
import { Kinds } from './resourceKinds.ts';

interface SilentServer {
  readonly url: string;
  /** Resolves once `n` connections have been accepted: that many requests went out. */
  connected(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A loopback "API server" that accepts connections and never answers. */
async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let waiting: { n: number; resolve: () => void } | undefined;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    accepted++;
    if (waiting !== undefined && accepted >= waiting.n) waiting.resolve();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return {
    url: `http://127.0.0.1:${String(address.port)}`,
    connected: (n) =>
      accepted >= n ? Promise.resolve() : new Promise((resolve) => (waiting = { n, resolve })),
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function clientFor(server: SilentServer): HttpKubeClient {
  return new HttpKubeClient({
    getCurrentCluster: () => ({ server: server.url }),
    applyToHTTPSOptions: () => Promise.resolve(),
  });
}

const servers: SilentServer[] = [];
async function started(): Promise<SilentServer> {
  const server = await silentServer();
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const abortedBy = (reason: RegExp) => ({
  name: 'AbortError',
  cause: expect.objectContaining({ message: expect.stringMatching(reason) }),
});

describe('HttpKubeClient', () => {
  it('ends on close() the calls an API server never answers, and refuses later ones', async () => {
    const server = await started();
    const client = clientFor(server);
    const get = client.get(Kinds.ConfigMap, 'ns', 'cm');
    const list = client.list(Kinds.ConfigMap, { namespace: 'ns' });
    await server.connected(2);
    client.close();
    await expect(get).rejects.toMatchObject(abortedBy(/client was closed/));
    await expect(list).rejects.toMatchObject(abortedBy(/client was closed/));
    await expect(client.get(Kinds.ConfigMap, 'ns', 'cm')).rejects.toThrow(/client was closed/);
  });

  it('ends a list when its own signal aborts, and stays usable', async () => {
    const server = await started();
    const client = clientFor(server);
    const abort = new AbortController();
    const list = client.list(Kinds.ConfigMap, { namespace: 'ns', signal: abort.signal });
    await server.connected(1);
    abort.abort(new Error('informer stopped'));
    await expect(list).rejects.toMatchObject(abortedBy(/informer stopped/));
    const next = client.get(Kinds.ConfigMap, 'ns', 'cm');
    await server.connected(2);
    client.close();
    await expect(next).rejects.toMatchObject(abortedBy(/client was closed/));
  });

  it('reads any path as text, as a pod answers through the pod proxy, and rejects a non-2xx with its body', async () => {
    const server = createHttpServer((req, res) => {
      if (req.url === '/api/v1/namespaces/ns/pods/p:9090/proxy/debug/stats')
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"models":{}}');
      else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"off"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    const client = new HttpKubeClient({
      getCurrentCluster: () => ({ server: `http://127.0.0.1:${String(address.port)}` }),
      applyToHTTPSOptions: () => Promise.resolve(),
    });
    try {
      expect(await client.getText('/api/v1/namespaces/ns/pods/p:9090/proxy/debug/stats')).toBe(
        '{"models":{}}',
      );
      const err: unknown = await client.getText('/elsewhere').catch((e: unknown) => e);
      expect(isKubeApiError(err) && err.status === 404 && err.message.includes('off')).toBe(true);
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

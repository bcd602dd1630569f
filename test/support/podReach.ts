/**
 * Servers a test starts on this machine (the simulator, Redis, an MCP server): where they
 * listen, so that one address works from the test and from a pod, and a free port for them.
 */
import { createServer } from 'node:net';

/**
 * The real node gives pods their own network: they reach this machine at its own address, which
 * the global setup exports as BREAKWATER_POD_HOST. Without it (no node, or a cluster that cannot
 * reach this machine) servers stay on loopback.
 */
export function serverHost(): string {
  const host = process.env['BREAKWATER_POD_HOST'];
  return host === undefined || host === '' ? '127.0.0.1' : host;
}

/** A port nothing on this machine listens on right now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Starts a server on a port `freePort` picked, and picks again (up to three times) when the
 * server finds it taken: between the pick and the server's bind, an outgoing connection may
 * take the port (the kernel hands out the same range), and a Redis Cluster node also binds
 * its bus 10000 above it.
 */
export async function onAFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (tries >= 3 || !String(err).includes('Address already in use')) throw err;
    }
  }
}

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

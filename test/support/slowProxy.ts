/**
 * A TCP proxy that delays what the target sends back by a set number of milliseconds: a store
 * that is slow but up (a loaded node, a long network path), without load on this machine. Each
 * connection's bytes keep their order; `delay(ms)` changes the delay of what arrives next.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface SlowProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** Replies that arrive from now on reach the client `ms` later. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startSlowProxy(target: string): Promise<SlowProxy> {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  const sockets = new Set<Socket>();
  let delayMs = 0;
  const server = createServer((client) => {
    const upstream = connect(port, host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    // What the target answered, with the time each piece is due at the client, in order.
    const due: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = (): void => {
      timer = undefined;
      const now = Date.now();
      while (due[0] !== undefined && due[0].at <= now) client.write(due.shift()?.chunk ?? '');
      if (due[0] !== undefined) timer = setTimeout(pump, due[0].at - now);
    };
    upstream.on('data', (chunk: Buffer) => {
      const last = due.at(-1)?.at ?? 0;
      due.push({ at: Math.max(Date.now() + delayMs, last), chunk });
      if (timer === undefined) pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${String(listening)}`,
    delay(ms) {
      delayMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

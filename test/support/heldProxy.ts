/**
 * A TCP proxy that holds every connection until `release()`: a store that takes its time to
 * accept, as one does while its pod starts or its node is slow. Connections made before the
 * release wait, unanswered, and are then joined to the target; later ones are joined at once.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface HeldProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** How many connections are waiting for the release. */
  readonly held: number;
  release(): void;
  close(): Promise<void>;
}

export async function startHeldProxy(target: string): Promise<HeldProxy> {
  const [host, port] = splitAddress(target);
  const sockets = new Set<Socket>();
  const waiting: Socket[] = [];
  let released = false;
  const join = (client: Socket): void => {
    const upstream = connect(port, host);
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  };
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (released) join(client);
    else {
      client.pause();
      waiting.push(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${String(listening)}`,
    get held() {
      return waiting.length;
    },
    release() {
      released = true;
      for (const client of waiting.splice(0)) {
        join(client);
        client.resume();
      }
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

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/**
 * The plumbing the tests' TCP proxies share: a listener on loopback whose clients are each
 * joined to the target when the proxy chooses, every socket closed with its partner and all of
 * them with the proxy. What a proxy does to the bytes (delay them, lose an answer, hold the
 * connection) is its own; `heldProxy.ts`, `slowProxy.ts` and `lostAnswerProxy.ts` use this.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** Cuts every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Listens for clients; `accepted` receives each with `join`, which opens its connection to
 * `target` ("host:port") and returns it, the two closing together. Bytes flow as `accepted`
 * wires them.
 */
export async function startTcpProxy(
  target: string,
  accepted: (client: Socket, join: () => Socket) => void,
): Promise<TcpProxy> {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    accepted(client, () => {
      const upstream = connect(port, host);
      track(upstream);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      return upstream;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${String(listening)}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

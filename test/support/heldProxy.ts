/**
 * A TCP proxy that holds every connection until `release()`: a store that takes its time to
 * accept, as one does while its pod starts or its node is slow. Connections made before the
 * release wait, unanswered, and are then joined to the target; later ones are joined at once.
 */
import type { Socket } from 'node:net';
import { startTcpProxy } from './tcpProxy.ts';

export interface HeldProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** How many connections are waiting for the release. */
  readonly held: number;
  release(): void;
  close(): Promise<void>;
}

export async function startHeldProxy(target: string): Promise<HeldProxy> {
  const waiting: { client: Socket; join: () => Socket }[] = [];
  let released = false;
  const link = (client: Socket, join: () => Socket): void => {
    client.pipe(join()).pipe(client);
  };
  const proxy = await startTcpProxy(target, (client, join) => {
    if (released) link(client, join);
    else {
      client.pause();
      waiting.push({ client, join });
    }
  });
  return {
    address: proxy.address,
    get held() {
      return waiting.length;
    },
    release() {
      released = true;
      for (const { client, join } of waiting.splice(0)) {
        link(client, join);
        client.resume();
      }
    },
    close: () => proxy.close(),
  };
}

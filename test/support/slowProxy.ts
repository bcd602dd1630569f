/**
 * A TCP proxy that delays what the target sends back by a set number of milliseconds: a store
 * that is slow but up (a loaded node, a long network path), without load on this machine. Each
 * connection's bytes keep their order; `delay(ms)` changes the delay of what arrives next.
 */
import { startTcpProxy } from './tcpProxy.ts';

export interface SlowProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** Replies that arrive from now on reach the client `ms` later. */
  delay(ms: number): void;
  close(): Promise<void>;
}

export async function startSlowProxy(target: string): Promise<SlowProxy> {
  let delayMs = 0;
  const proxy = await startTcpProxy(target, (client, join) => {
    const upstream = join();
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
  return {
    address: proxy.address,
    delay(ms) {
      delayMs = ms;
    },
    close: () => proxy.close(),
  };
}

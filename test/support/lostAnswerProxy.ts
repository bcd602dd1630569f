/**
 * A TCP proxy that can lose one answer: the next command whose bytes hold a given text reaches
 * the target, which runs it, and then the connection is cut before the answer gets back, as a
 * network that fails after the server acted. The client cannot tell whether its command ran.
 * Only a command with nothing else in flight on its connection is told apart from its neighbours.
 */
import { startTcpProxy } from './tcpProxy.ts';

export interface LostAnswerProxy {
  /** `127.0.0.1:port`, for a client's address. */
  readonly address: string;
  /** The next command holding `text` runs at the target; its answer is lost with the connection. */
  loseAnswerTo(text: string): void;
  /** How many times the clients sent bytes holding `text` (counted as they pass). */
  sent(text: string): number;
  close(): Promise<void>;
}

export async function startLostAnswerProxy(target: string): Promise<LostAnswerProxy> {
  const seen: string[] = [];
  let armed: string | undefined;
  const proxy = await startTcpProxy(target, (client, join) => {
    const upstream = join();
    /** This connection sent the command whose answer is to be lost. */
    let losing = false;
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      seen.push(text);
      if (armed !== undefined && text.includes(armed)) {
        armed = undefined;
        losing = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!losing) {
        client.write(chunk);
        return;
      }
      // The target ran it and answered: the answer goes nowhere.
      client.destroy();
      upstream.destroy();
    });
  });
  return {
    address: proxy.address,
    loseAnswerTo(text) {
      armed = text;
    },
    sent: (text) => seen.filter((chunk) => chunk.includes(text)).length,
    close: () => proxy.close(),
  };
}

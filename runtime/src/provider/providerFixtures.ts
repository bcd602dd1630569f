/**
 * Local HTTP servers standing in for a provider (or an egress proxy) in the transport tests,
 * and the transports the tests open against them; everything is closed together after each
 * test.
 */
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProviderHandler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

export class LocalServers {
  readonly #servers: Server[] = [];
  readonly #closers: (() => Promise<unknown>)[] = [];

  /** A provider that reads each request whole, then hands it to `handler`; its base URL. */
  provider(handler: ProviderHandler): Promise<string> {
    return this.listen((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        handler(req, body, res);
      });
    });
  }

  /** Any server on a free local port; its base URL. */
  async listen(listener: RequestListener): Promise<string> {
    const server = createServer(listener);
    this.#servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Closes `transport` with the servers. */
  track<T extends { close(): Promise<unknown> }>(transport: T): T {
    this.#closers.push(() => transport.close());
    return transport;
  }

  /** Stops every server: from now on, connecting is refused. */
  async stopListening(): Promise<void> {
    for (const server of this.#servers) {
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    }
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0)) await close();
    await this.stopListening();
    this.#servers.length = 0;
  }
}

/**
 * The Kubernetes client's transport: TLS material that may rotate on disk (a projected
 * service-account CA, client certificates renewed in place) reaches every new connection.
 */
import type { ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TlsMaterial } from './tlsFiles.ts';

/**
 * Keep-alive HTTPS whose new connections take the TLS material of the moment. No TLS session
 * is resumed: a resumed session would carry the identity of a rotated-out certificate, and
 * with keep-alive new connections are rare enough that a full handshake costs nothing.
 */
export class RotatingTlsAgent extends HttpsAgent {
  readonly #material: () => TlsMaterial;

  constructor(material: () => TlsMaterial) {
    super({ keepAlive: true, maxCachedSessions: 0 });
    this.#material = material;
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    return super.createConnection({ ...options, ...this.#material() }, callback);
  }
}

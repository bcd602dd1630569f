import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KeyPairFiles } from './pki.ts';

/** Trust and, for mutual TLS, a client certificate. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export function tlsMaterial(caFile: string, client?: KeyPairFiles): TlsMaterial {
  const ca = readFileSync(caFile);
  if (client === undefined) return { ca };
  return { ca, cert: readFileSync(client.cert), key: readFileSync(client.key) };
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** One GET with a short timeout; rejects when nothing answers. */
export function httpGet(url: string, tls?: TlsMaterial, timeoutMs = 3000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, agent: false as const, ...tls };
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      options,
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => {
      request.destroy(new Error(`no answer from ${url} within ${timeoutMs}ms`));
    });
    request.on('error', reject);
    request.end();
  });
}

/** Healthy means 200; anything else is described for the report. */
export async function probeHealthy(url: string, tls?: TlsMaterial): Promise<true> {
  const answer = await httpGet(url, tls);
  if (answer.status === 200) return true;
  throw new Error(`${url} answered ${answer.status}: ${answer.body.trim().slice(0, 500)}`);
}

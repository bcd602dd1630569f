/**
 * HTTP/1.1 over a bare TCP socket, for tests that send what no HTTP client would: broken
 * framing, floods of headers, bytes dribbled in. `exchange` writes the parts (pausing where
 * told), then reads until the server closes the connection or, once everything is written, goes
 * quiet, and splits what came back into responses.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';

/** Bytes to write, or a pause between two writes. */
export type Part = Buffer | string | { readonly pauseMs: number };

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; the last value of a repeated header. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface Exchange {
  readonly responses: RawResponse[];
  /** The server closed the connection (rather than the exchange timing out on a quiet one). */
  readonly closedByServer: boolean;
  /** Bytes after the last whole response that make no response. */
  readonly leftover: number;
}

export interface ExchangeOptions {
  /** Half-close the connection once every part is written (a client that gives up sending). */
  readonly endAfterWriting?: boolean;
  /** Once every part is written, stop waiting after this long with nothing new. @default 1500 */
  readonly quietMs?: number;
}

export async function exchange(
  port: number,
  parts: readonly Part[],
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const socket = connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let closedByServer = false;
  // The quiet window opens once every part is written: a large body written slowly (a busy
  // machine, a server that stopped reading) is not silence, and the answer may come after it.
  let writing = true;
  let arm: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    let quiet: NodeJS.Timeout | undefined;
    arm = () => {
      clearTimeout(quiet);
      if (!writing) quiet = setTimeout(resolve, options.quietMs ?? 1_500);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('close', () => {
      closedByServer = true;
      clearTimeout(quiet);
      resolve();
    });
    // A reset after the server answered and closed is still a close.
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  for (const part of parts) {
    if (socket.destroyed) break;
    if (typeof part === 'object' && 'pauseMs' in part) {
      await new Promise((resolve) => setTimeout(resolve, part.pauseMs));
      continue;
    }
    await new Promise<void>((resolve) => {
      socket.write(part, () => {
        resolve();
      });
    });
  }
  if (options.endAfterWriting === true && !socket.destroyed) socket.end();
  writing = false;
  arm();
  await done;
  socket.destroy();
  const { responses, leftover } = parseResponses(Buffer.concat(chunks));
  return { responses, closedByServer, leftover };
}

/** Splits a byte stream into HTTP/1.1 responses (content-length, chunked, or to the end). */
export function parseResponses(data: Buffer): { responses: RawResponse[]; leftover: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (match === null) break;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0)
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const pieces: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', bodyStart);
        if (lineEnd === -1) return { responses, leftover: data.length - at };
        const size = Number.parseInt(data.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        bodyStart = lineEnd + 2;
        if (!(size > 0)) {
          bodyStart += 2;
          break;
        }
        pieces.push(data.subarray(bodyStart, bodyStart + size));
        bodyStart += size + 2;
      }
      body = Buffer.concat(pieces);
      at = bodyStart;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bodyStart + length > data.length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      at = bodyStart + length;
    } else {
      body = data.subarray(bodyStart);
      at = data.length;
    }
    responses.push({ status: Number(match[1]), headers, body });
  }
  return { responses, leftover: data.length - at };
}

/** A request head with CRLF line ends; `headers` go out as given, repeats and all. */
export function head(requestLine: string, headers: readonly (readonly [string, string])[]): string {
  return `${requestLine}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The current resident set size of process `pid`, in bytes (Linux). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${String(pid)}`);
  return Number(kb) * 1024;
}

/**
 * A closed-loop HTTP/1.1 load generator on raw sockets, for `bench/runtime.ts`: each of
 * `concurrency` keep-alive connections sends a request, reads the whole answer, and sends the
 * next, until the time is up. Requests are pre-encoded bytes and answers are parsed only as
 * far as framing needs (status, content-length or chunked), so the generator spends a small,
 * measured share of the CPU that the servers under test compete for.
 */
import { connect, type Socket } from 'node:net';

export interface LoadOptions {
  readonly port: number;
  /** Pre-encoded requests, sent in turn; connection i starts at request i. */
  readonly requests: readonly Buffer[];
  readonly concurrency: number;
  readonly durationMs: number;
}

export interface LoadRun {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  /** Connections the server closed, so that the generator had to open another one. */
  readonly reconnects: number;
  /** Latency of each request in milliseconds, in completion order. */
  readonly latenciesMs: readonly number[];
  /** Time to the first byte of each answer in milliseconds (status line included). */
  readonly firstByteMs: readonly number[];
}

/** Encodes one POST with a JSON body as HTTP/1.1 bytes. */
export function encodePost(
  path: string,
  port: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): Buffer {
  const payload = Buffer.from(body);
  const lines = [
    `POST ${path} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    'content-type: application/json',
    `content-length: ${payload.length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Incremental framing of one HTTP/1.1 response at a time. `feed` returns the status of the
 * response it completed, or 0 while one is still arriving.
 */
export class ResponseFramer {
  #buffer: Buffer = Buffer.alloc(0);
  #status = 0;
  /** Body bytes still expected (content-length), or -1 for chunked, -2 before headers. */
  #remaining = -2;
  /** Chunked: bytes of the current chunk (plus its CRLF) still to skip. */
  #chunkLeft = 0;
  closeAfter = false;
  /** The body of the last response, kept only when asked (to check answers). */
  keepBody = false;
  #body: Buffer[] = [];
  lastBody: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): number {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    if (this.#remaining === -2) {
      const end = this.#buffer.indexOf(HEADER_END);
      if (end < 0) return 0;
      this.#head(this.#buffer.toString('latin1', 0, end));
      this.#buffer = this.#buffer.subarray(end + 4);
    }
    return this.#remaining === -1 ? this.#chunked() : this.#sized();
  }

  #head(head: string): void {
    this.#status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    this.closeAfter = lower.includes('\r\nconnection: close');
    const at = lower.indexOf('\r\ncontent-length:');
    if (at >= 0) {
      this.#remaining = Number.parseInt(lower.slice(at + 17, lower.indexOf('\r\n', at + 2)), 10);
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      this.#remaining = -1;
      this.#chunkLeft = 0;
    } else {
      this.#remaining = 0;
    }
  }

  #sized(): number {
    if (this.#buffer.length < this.#remaining) return 0;
    this.#take(this.#buffer.subarray(0, this.#remaining));
    this.#buffer = this.#buffer.subarray(this.#remaining);
    return this.#done();
  }

  #chunked(): number {
    for (;;) {
      if (this.#chunkLeft > 0) {
        const n = Math.min(this.#chunkLeft, this.#buffer.length);
        // The chunk's trailing CRLF is skipped with it; only data bytes are kept.
        this.#take(this.#buffer.subarray(0, Math.max(0, Math.min(n, this.#chunkLeft - 2))));
        this.#chunkLeft -= n;
        this.#buffer = this.#buffer.subarray(n);
        if (this.#chunkLeft > 0) return 0;
      }
      const eol = this.#buffer.indexOf(CRLF);
      if (eol < 0) return 0;
      const size = Number.parseInt(this.#buffer.toString('latin1', 0, eol), 16);
      if (size === 0) {
        // Last chunk, no trailers: "0\r\n\r\n".
        if (this.#buffer.length < eol + 4) return 0;
        this.#buffer = this.#buffer.subarray(eol + 4);
        return this.#done();
      }
      this.#buffer = this.#buffer.subarray(eol + 2);
      this.#chunkLeft = size + 2;
    }
  }

  #take(bytes: Buffer): void {
    if (this.keepBody && bytes.length > 0) this.#body.push(Buffer.from(bytes));
  }

  #done(): number {
    const status = this.#status;
    this.#remaining = -2;
    if (this.keepBody) {
      this.lastBody = Buffer.concat(this.#body);
      this.#body = [];
    }
    return status;
  }

  /** Bytes received past the end of the last response (none in a closed loop). */
  get leftover(): number {
    return this.#buffer.length;
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Runs the closed loop; every connection is opened before the clock starts. */
export async function closedLoop(options: LoadOptions): Promise<LoadRun> {
  const { port, requests, concurrency, durationMs } = options;
  const latencies: number[] = [];
  const firstBytes: number[] = [];
  let done = 0;
  let errors = 0;
  let reconnects = 0;
  const sockets = await Promise.all(Array.from({ length: concurrency }, () => open(port)));
  const started = performance.now();
  const until = started + durationMs;

  const lane = (first: Socket, index: number) =>
    new Promise<void>((resolve) => {
      let socket = first;
      let next = index;
      let sentAt = 0;
      let firstByte = false;
      let waiting = false;
      const framer = new ResponseFramer();
      const send = () => {
        waiting = true;
        firstByte = false;
        sentAt = performance.now();
        socket.write(requests[next % requests.length] as Buffer);
        next++;
      };
      const attach = (s: Socket) => {
        s.on('data', (chunk: Buffer) => {
          if (!firstByte) {
            firstByte = true;
            firstBytes.push(performance.now() - sentAt);
          }
          const status = framer.feed(chunk);
          if (status === 0) return;
          waiting = false;
          const now = performance.now();
          latencies.push(now - sentAt);
          done++;
          if (status !== 200) errors++;
          if (now >= until) {
            s.destroy();
            resolve();
          } else if (framer.closeAfter) {
            s.destroy();
          } else {
            send();
          }
        });
        s.on('close', () => {
          if (performance.now() >= until) {
            resolve();
            return;
          }
          // The server closed a connection mid-run: count it (and a request it dropped) and
          // carry on with a new one.
          reconnects++;
          if (waiting) errors++;
          framer.closeAfter = false;
          void open(port).then(
            (fresh) => {
              socket = fresh;
              attach(fresh);
              send();
            },
            () => {
              errors++;
              resolve();
            },
          );
        });
        s.on('error', () => undefined);
      };
      attach(socket);
      send();
    });

  await Promise.all(sockets.map((s, i) => lane(s, i)));
  return {
    requests: done,
    errors,
    seconds: (performance.now() - started) / 1000,
    reconnects,
    latenciesMs: latencies,
    firstByteMs: firstBytes,
  };
}

/** Sends one request on a fresh connection and returns status and body (to check answers). */
export async function exchange(
  port: number,
  request: Buffer,
): Promise<{ status: number; body: string }> {
  const socket = await open(port);
  const framer = new ResponseFramer();
  framer.keepBody = true;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      const status = framer.feed(chunk);
      if (status === 0) return;
      socket.destroy();
      resolve({ status, body: framer.lastBody.toString('utf8') });
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

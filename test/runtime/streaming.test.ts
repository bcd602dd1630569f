/**
 * Streams through the runtime as a real provider sends them: a first-token delay and pauses
 * between events, so that chunks reach the runtime one by one. The wire is read as raw bytes
 * where the SDK would hide a framing defect, and with the unmodified SDK where it is the caller.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import {
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';

let sim: SimulatorHandle;
let rt: StandaloneRuntime;

beforeAll(async () => {
  // The simulator's default pacing: a first-token pause, gaps between events, split events.
  sim = await startSimulator({ seed: 11 });
  rt = await standaloneRuntime(policyDocument(sim.url));
});

afterAll(async () => {
  await rt.stop();
  await sim.stop();
});

/** One HTTP/1.1 exchange per request on a single keep-alive socket; resolves with the bytes read. */
function rawExchanges(url: string, bodies: readonly string[], settleMs = 300): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    const done = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(done, settleMs);
    });
    socket.on('error', reject);
    socket.on('connect', () => {
      for (const body of bodies) {
        socket.write(
          `POST /v1/messages HTTP/1.1\r\nHost: ${hostname}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
    });
  });
}

/** Decodes HTTP/1.1 chunked bodies, one per response, failing loudly on any framing error. */
function dechunkResponses(raw: string): string[] {
  const bodies: string[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd < 0)
      throw new Error(`bytes after the last response: ${JSON.stringify(raw.slice(at))}`);
    const head = raw.slice(at, headEnd);
    if (!head.startsWith('HTTP/1.1 '))
      throw new Error(`not a status line: ${JSON.stringify(head)}`);
    if (!/transfer-encoding: chunked/i.test(head)) throw new Error(`not chunked: ${head}`);
    at = headEnd + 4;
    let body = '';
    for (;;) {
      const sizeEnd = raw.indexOf('\r\n', at);
      const size = Number.parseInt(raw.slice(at, sizeEnd), 16);
      if (!Number.isFinite(size))
        throw new Error(`bad chunk size at ${at}: ${JSON.stringify(raw.slice(at, at + 20))}`);
      at = sizeEnd + 2;
      if (size === 0) {
        if (raw.slice(at, at + 2) !== '\r\n') throw new Error('no CRLF after the last chunk');
        at += 2;
        break;
      }
      body += raw.slice(at, at + size);
      at += size;
      if (raw.slice(at, at + 2) !== '\r\n') throw new Error(`chunk not followed by CRLF at ${at}`);
      at += 2;
    }
    bodies.push(body);
  }
  return bodies;
}

/** The text deltas of an event stream, joined. */
function textOf(body: string): string {
  return [...body.matchAll(/"text_delta","text":("(?:[^"\\]|\\.)*")/g)]
    .map((m) => JSON.parse(m[1] ?? '""') as string)
    .join('');
}

const streamed = (text: string) =>
  JSON.stringify({
    model: 'claude-opus-4-1',
    max_tokens: 64,
    stream: true,
    messages: [{ role: 'user', content: text }],
  });

describe('the wire format of a paced stream', () => {
  it('ends each response with its last event before the chunked terminator, and the keep-alive connection stays usable', async () => {
    const raw = await rawExchanges(rt.runtime.url, [
      streamed('the first of two streams on one connection'),
      streamed('the second'),
    ]);
    const bodies = dechunkResponses(raw);
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body.trimEnd().endsWith('event: message_stop\ndata: {"type":"message_stop"}')).toBe(
        true,
      );
      expect(body).toContain('content_block_stop');
    }
    expect(textOf(bodies[1] ?? '')).toBe('You said: the second');
  });
});

/**
 * Raw-socket helpers for front.ts and frontMidFlight.ts: a request's head, bytes written with
 * pauses, what came back normalised (date, keep-alive, ids and lengths out) and how the socket
 * ended.
 */
import { connect } from 'node:net';
import { KEY, PRIMARY_MODEL, scrub } from './harness.ts';

export const BODY = JSON.stringify({
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'Say hello.' }],
});

export interface Step {
  /** Bytes to write, in order; a number waits that many ms. */
  readonly parts: (string | number)[];
  /** After the parts: 'end' half-closes, 'destroy' hangs up, 'wait' leaves it open. */
  readonly then: 'end' | 'destroy' | 'wait';
  /** How long to wait for more bytes before calling the socket hung. */
  readonly idleMs?: number;
}

export function head(port: string, lines: string[], length: number | null = null): string {
  return [
    'POST /v1/messages HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    `x-api-key: ${KEY}`,
    'anthropic-version: 2023-06-01',
    ...(length === null ? [] : [`Content-Length: ${String(length)}`]),
    ...lines,
    '',
    '',
  ].join('\r\n');
}

export async function raw(url: string, step: Step): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname);
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (how: string) => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      s.destroy();
      resolve(`${norm(got)}\n[${how}]`);
    };
    const idle = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        finish('still open');
      }, step.idleMs ?? 1500);
    };
    s.on('data', (d) => {
      got += d.toString('latin1');
      idle();
    });
    s.on('end', () => {
      finish('closed by server');
    });
    s.on('error', (e) => {
      finish(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    });
    const send = async () => {
      for (const p of step.parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else s.write(p);
      }
      if (step.then === 'end') s.end();
      if (step.then === 'destroy') {
        s.destroy();
        setTimeout(() => {
          finish('hung up by caller');
        }, 300);
        return;
      }
      idle();
    };
    s.on('connect', () => {
      void send();
    });
  });
}

export function norm(text: string): string {
  return scrub(text)
    .split('\r\n')
    .filter((l) => !/^(date|keep-alive):/i.test(l))
    .map((l) => l.replace(/^(request-id|x-request-id): .*/i, '$1: *'))
    .map((l) => l.replace(/(content-length): \d+/i, '$1: N'))
    .join('\n');
}

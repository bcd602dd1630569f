/**
 * S1 (docs/guarantees.md): a request whose body is still arriving when the drain delay ends is
 * answered, 503 as any new request then, before the runtime exits: not dropped unanswered.
 * Found by an outside attack (attacks/lean-route/frontDrainUpload.ts): a request counted as in
 * flight only once its body was read, so with nothing else in flight the shutdown found none
 * and closed. The runtime as a process, policy from a file; the lean Messages route (served
 * ahead of fastify) and the long way (fastify's), raw sockets to hold a body half sent.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { waitFor } from '../support/waitFor.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';

const KEY = 'bw-drain-upload-key';
const BODY = JSON.stringify({
  model: PRIMARY_MODEL,
  max_tokens: 16,
  messages: [{ role: 'user', content: 'A body sent in two halves, across the drain.' }],
});

let sim: SimulatorHandle;
let dir: string;
const started: RuntimeHandle[] = [];

beforeAll(async () => {
  sim = await startSimulator({ seed: 5 });
  dir = mkdtempSync(join(tmpdir(), 'bw-drain-upload-'));
});

afterAll(async () => {
  await Promise.all(started.map((rt) => rt.stop()));
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A request with half its body written; the rest on `sendRest`; what the server wrote back. */
function upload(url: string): { sendRest(): void; answer: Promise<string> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const half = Math.floor(BODY.length / 2);
  socket.write(
    [
      'POST /v1/messages HTTP/1.1',
      `Host: ${hostname}:${port}`,
      'Content-Type: application/json',
      `Content-Length: ${String(Buffer.byteLength(BODY))}`,
      `x-api-key: ${KEY}`,
      'anthropic-version: 2023-06-01',
      '',
      BODY.slice(0, half),
    ].join('\r\n'),
  );
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('close', () => {
      resolve(text);
    });
    socket.on('error', () => undefined);
  });
  return {
    sendRest: () => {
      socket.end(BODY.slice(half));
    },
    answer,
  };
}

describe('SIGTERM with a body still arriving and nothing else in flight', () => {
  it.each([
    ['the lean route, ahead of fastify', {}],
    ['the long way, through fastify', { BREAKWATER_LEAN_ROUTE: 'off' }],
  ])(
    '%s: answered 503 in the Anthropic shape once the rest comes, then exits 0',
    async (_, env) => {
      const file = join(dir, `policy-${String(started.length)}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          ...samplePolicyDocument(),
          model: { name: PRIMARY_MODEL, fallbacks: [], maxTokens: 64 },
          backends: [
            { name: 'default', baseURL: sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 },
          ],
        }),
      );
      const rt = await startRuntime(
        [
          '--policy',
          file,
          '--log-level',
          'warn',
          '--drain-delay-ms',
          '300',
          '--shutdown-grace-ms',
          '20000',
        ],
        { ANTHROPIC_API_KEY: 'sk-drain', BREAKWATER_CLIENT_KEYS: KEY, ...env },
      );
      started.push(rt);
      const held = upload(rt.url);
      // A round trip on another connection, begun after the half body was written: the
      // server has read the held request's headers by the time it answers.
      expect((await fetch(`${rt.url}/health/live`)).status).toBe(200);
      const plan = ((await rt.debug('/debug/policy')) as { messagesRoute?: { way?: string } })
        .messagesRoute;
      expect(plan?.way).toBe('BREAKWATER_LEAN_ROUTE' in env ? 'long' : 'lean');
      rt.child.kill('SIGTERM');
      // Past the drain delay: new requests are refused (or, were the half-sent one dropped, the
      // server is gone), and the rest of the body is sent only then.
      let probe: number | 'gone' = 0;
      await waitFor(
        async () => {
          probe = await fetch(`${rt.url}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': KEY },
            body: BODY,
          }).then(
            (r) => r.status,
            () => 'gone' as const,
          );
          if (probe === 503 || probe === 'gone') return true;
          throw new Error(`a new request was answered ${String(probe)}`);
        },
        { timeoutMs: 10_000, intervalMs: 50, description: 'the drain delay to end' },
      );
      expect(probe).toBe(503);
      held.sendRest();
      const answer = await held.answer;
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
      expect(answer).toMatch(/"type":"error"/);
      expect(await rt.exited).toBe(0);
    },
  );
});

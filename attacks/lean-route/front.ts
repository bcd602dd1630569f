/**
 * What the front (runtime/src/server/frontMessages.ts) adds, on raw sockets: the same bytes to
 * the lean runtime and to the long one (BREAKWATER_LEAN_ROUTE=off), what comes back compared
 * (status line, headers but date / keep-alive, body with ids scrubbed, whether the socket was
 * closed or left hanging), then /metrics compared.
 *
 *   node attacks/lean-route/front.ts
 */
import { basePolicy, KEY, metricDiffs, startPair } from './harness.ts';
import { BODY, head, raw, type Step } from './frontRaw.ts';

const pair = await startPair((sim) => basePolicy(sim));
const port = (u: string) => new URL(u).port;
const cases: Record<string, (p: string) => Step> = {
  plain: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length) + BODY],
    then: 'wait',
  }),
  upperType: (p) => ({
    parts: [head(p, ['Content-Type: APPLICATION/JSON'], BODY.length) + BODY],
    then: 'wait',
  }),
  typeCharset: (p) => ({
    parts: [head(p, ['Content-Type: application/json; charset=utf-8'], BODY.length) + BODY],
    then: 'wait',
  }),
  typeSpace: (p) => ({
    parts: [head(p, ['Content-Type: application/json '], BODY.length) + BODY],
    then: 'wait',
  }),
  dupTypes: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json', 'Content-Type: text/plain'], BODY.length) + BODY,
    ],
    then: 'wait',
  }),
  shorterThenEnd: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length + 10) + BODY],
    then: 'end',
  }),
  shorterThenWait: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length + 10) + BODY],
    then: 'wait',
    idleMs: 2500,
  }),
  shorterThenHangUp: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length + 10) + BODY, 200],
    then: 'destroy',
  }),
  longer: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length) + BODY + 'garbage\r\n\r\n'],
    then: 'wait',
  }),
  longerByJsonTail: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length - 1) + BODY],
    then: 'wait',
  }),
  dupLengthSame: (p) => ({
    parts: [
      head(
        p,
        ['Content-Type: application/json', `Content-Length: ${String(BODY.length)}`],
        BODY.length,
      ) + BODY,
    ],
    then: 'wait',
  }),
  dupLengthDiff: (p) => ({
    parts: [
      head(
        p,
        ['Content-Type: application/json', `Content-Length: ${String(BODY.length + 1)}`],
        BODY.length,
      ) + BODY,
    ],
    then: 'wait',
  }),
  leadingZeros: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json', `Content-Length: 000${String(BODY.length)}`]) +
        BODY,
    ],
    then: 'wait',
  }),
  lengthZero: (p) => ({ parts: [head(p, ['Content-Type: application/json'], 0)], then: 'wait' }),
  lengthOverLimit: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], 99_999_999) + BODY],
    then: 'wait',
  }),
  slowBody: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length),
      ...Array.from(BODY).flatMap((c, i) => (i % 20 === 0 ? [c, 30] : [c])),
    ],
    then: 'wait',
  }),
  pipelined2: (p) => ({
    parts: [(head(p, ['Content-Type: application/json'], BODY.length) + BODY).repeat(2)],
    then: 'wait',
  }),
  pipelinedBadThenGood: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], 5) +
        '{"a":' +
        head(p, ['Content-Type: application/json'], BODY.length) +
        BODY,
    ],
    then: 'wait',
  }),
  pipelinedLeanThenOther: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length) +
        BODY +
        `GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\n\r\n`,
    ],
    then: 'wait',
  }),
  plainThenEnd: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], BODY.length) + BODY],
    then: 'end',
  }),
  pipelinedThenEnd: (p) => ({
    parts: [(head(p, ['Content-Type: application/json'], BODY.length) + BODY).repeat(3)],
    then: 'end',
  }),
  badJson: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], 5) + '{"a":'],
    then: 'wait',
  }),
  badUtf8: (p) => ({
    parts: [head(p, ['Content-Type: application/json'], 4) + '"\xff\xfe"'],
    then: 'wait',
  }),
  emptyRequestId: (p) => ({
    parts: [head(p, ['Content-Type: application/json', 'x-request-id: '], BODY.length) + BODY],
    then: 'wait',
  }),
  dupRequestId: (p) => ({
    parts: [
      head(
        p,
        ['Content-Type: application/json', 'x-request-id: a', 'x-request-id: b'],
        BODY.length,
      ) + BODY,
    ],
    then: 'wait',
  }),
  http10: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length).replace('HTTP/1.1', 'HTTP/1.0') +
        BODY,
    ],
    then: 'wait',
  }),
  http10KeepAlive: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json', 'Connection: keep-alive'], BODY.length).replace(
        'HTTP/1.1',
        'HTTP/1.0',
      ) + BODY,
    ],
    then: 'wait',
  }),
  connectionClose: (p) => ({
    parts: [head(p, ['Content-Type: application/json', 'Connection: close'], BODY.length) + BODY],
    then: 'wait',
  }),
  noKey: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length).replace(/x-api-key: .*\r\n/, '') +
        BODY,
    ],
    then: 'wait',
  }),
  noKeyBadJson: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], 5).replace(/x-api-key: .*\r\n/, '') + '{"a":',
    ],
    then: 'wait',
  }),
  absoluteUrl: (p) => ({
    parts: [
      head(p, ['Content-Type: application/json'], BODY.length).replace(
        'POST /v1/messages',
        `POST http://127.0.0.1:${p}/v1/messages`,
      ) + BODY,
    ],
    then: 'wait',
  }),
};
const only = process.argv[2];
let differ = 0;
for (const [name, make] of Object.entries(cases)) {
  if (only !== undefined && name !== only) continue;
  const [a, b] = await Promise.all([
    raw(pair.lean.url, make(port(pair.lean.url))),
    raw(pair.long.url, make(port(pair.long.url))),
  ]);
  const same = a === b;
  if (!same) differ++;
  console.log(`== ${name}: ${same ? 'same' : 'DIFFER'}`);
  console.log(same ? a : `-- lean\n${a}\n-- long\n${b}`);
}
await new Promise((r) => setTimeout(r, 1000));
const m = await metricDiffs(pair);
console.log(m.join('\n'));
const policy = (await pair.lean.debug('/debug/policy')) as Record<string, unknown>;
console.log(
  `lean plan: ${/"(way|leanCalls|frontRequests)":[^,}]*/g[Symbol.match](JSON.stringify(policy))?.join(' ') ?? 'none'}`,
);
await pair.stop();
console.log(
  `${String(differ)} of ${String(Object.keys(cases).length)} cases differ; ${String(m.length)} metric series differ`,
);

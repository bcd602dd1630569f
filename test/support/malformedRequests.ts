/**
 * The malformed requests the runtime is fed over raw sockets (test/runtime/malformedInput.test.ts):
 * fast-check generators for more than fifty kinds of malformation — broken framing, bad
 * encodings, wrong JSON shapes, oversized bodies, clients that stop mid-request — and the check
 * that an answer is a 4xx error in the Anthropic shape; and the mutations of a valid policy
 * document written to its `--policy` file.
 */
import fc from 'fast-check';
import { PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { head, type Part, type RawResponse } from './rawHttp.ts';

const MiB = 1024 * 1024;

const MESSAGES = '/v1/messages';

export function message(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: PRIMARY_MODEL,
    max_tokens: 8,
    messages: [{ role: 'user', content: 'hi' }],
    ...patch,
  };
}

interface RequestOptions {
  readonly path?: string;
  readonly method?: string;
  /** undefined: no Content-Type header at all. */
  readonly contentType?: string | undefined;
  readonly headers?: readonly (readonly [string, string])[];
}

/** A well-framed request around `body`, closing the connection after its answer. */
function request(body: Buffer | string, options: RequestOptions = {}): Part[] {
  const contentType = 'contentType' in options ? options.contentType : 'application/json';
  return [
    head(`${options.method ?? 'POST'} ${options.path ?? MESSAGES} HTTP/1.1`, [
      ['host', 'runtime'],
      ...(contentType === undefined ? [] : [['content-type', contentType] as const]),
      ['content-length', String(Buffer.byteLength(body))],
      ['connection', 'close'],
      ...(options.headers ?? []),
    ]),
    body,
  ];
}

const json = (value: unknown): string => JSON.stringify(value);
/** The head of a JSON POST to the Messages route with a body of `length` bytes. */
const jsonHead = (length: number): string =>
  head(`POST ${MESSAGES} HTTP/1.1`, [
    ['host', 'runtime'],
    ['content-type', 'application/json'],
    ['content-length', String(length)],
    ['connection', 'close'],
  ]);
/** `text` with a placeholder ("@") replaced by raw bytes, for encodings JSON.stringify cannot make. */
const withBytes = (text: string, bytes: readonly number[]): Buffer => {
  const [before = '', after = ''] = text.split('@');
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
};
const messageWithRawContent = (bytes: readonly number[]): Buffer =>
  withBytes(json(message({ messages: [{ role: 'user', content: '@' }] })), bytes);

/** A Messages request whose text carries `bytes` that are not UTF-8. */
const invalidUtf8 = (what: string, bytes: fc.Arbitrary<number[]>): Kind => ({
  name: `invalid UTF-8: ${what}`,
  expect: 'error',
  parts: bytes.map((b) => request(messageWithRawContent(b))),
});

const nested = (depth: number, open: string, close: string, inner = '1'): string =>
  open.repeat(depth) + inner + close.repeat(depth);

/** Printable ASCII without the characters that end or split a header line. */
const token = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')),
  minLength: 1,
  maxLength: 12,
});
const wrongJsonValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(token, fc.integer(), { maxKeys: 3 }),
);

// ---- The kinds ---------------------------------------------------------------------------

/**
 * `error`: at least one answer, and every answer a 4xx Anthropic error.
 * `error-or-closed`: the client stopped sending mid-request; the server may only close, and
 * whatever it does answer is a 4xx Anthropic error.
 */
export type Expectation = 'error' | 'error-or-closed';

export interface Kind {
  readonly name: string;
  readonly expect: Expectation;
  readonly parts: fc.Arbitrary<Part[]>;
  /** Half-close once written: a client that gives up sending. */
  readonly endAfterWriting?: boolean;
  /** Generated requests; big ones fewer. @default 3 */
  readonly runs?: number;
}

export const kinds: Kind[] = [
  // HTTP framing: Node's parser refuses these before any route runs.
  {
    name: 'random bytes instead of a request',
    expect: 'error',
    parts: fc
      .uint8Array({ minLength: 1, maxLength: 512 })
      .map((bytes) => [
        Buffer.concat([Buffer.from([0]), Buffer.from(bytes), Buffer.from('\r\n\r\n')]),
      ]),
  },
  {
    name: 'a method that is not a token',
    expect: 'error',
    parts: fc
      .constantFrom('PO ST', 'GET\t', 'P(ST', 'POST{}', '"POST"')
      .map((method) => [head(`${method} ${MESSAGES} HTTP/1.1`, [['host', 'runtime']])]),
  },
  {
    name: 'an HTTP version that does not exist',
    expect: 'error',
    parts: fc
      .constantFrom('HTTP/0.5', 'HTTP/7.1', 'HTTP/1.1.1', 'HTTP/x', 'HTTPS/1.1', 'http/1.1')
      .map((version) => [head(`POST ${MESSAGES} ${version}`, [['host', 'runtime']])]),
  },
  {
    name: 'a request line without a version',
    expect: 'error',
    parts: fc.constant([`POST ${MESSAGES}\r\nhost: runtime\r\n\r\n`]),
  },
  {
    name: 'a header line without a colon',
    expect: 'error',
    parts: token.map((name) => [
      `POST ${MESSAGES} HTTP/1.1\r\nhost: runtime\r\n${name} value\r\n\r\n`,
    ]),
  },
  {
    name: 'a header name with a space or a control character',
    expect: 'error',
    parts: fc
      .tuple(token, fc.constantFrom(' ', '\t', '\u0001', '(', '"', '\u007f'))
      .map(([name, bad]) => [
        `POST ${MESSAGES} HTTP/1.1\r\nhost: runtime\r\n${name}${bad}x: 1\r\n\r\n`,
      ]),
  },
  {
    name: 'a NUL or another control byte in a header value',
    expect: 'error',
    parts: fc
      .constantFrom(0, 1, 8, 0x0b, 0x0c, 0x1f, 0x7f)
      .map((byte) => [
        Buffer.concat([
          Buffer.from(`POST ${MESSAGES} HTTP/1.1\r\nhost: runtime\r\nx-note: a`),
          Buffer.from([byte]),
          Buffer.from('b\r\n\r\n'),
        ]),
      ]),
  },
  {
    name: 'a folded header line',
    expect: 'error',
    parts: token.map((v) => [
      `POST ${MESSAGES} HTTP/1.1\r\nhost: runtime\r\nx-note: a\r\n ${v}\r\n\r\n`,
    ]),
  },
  {
    name: 'bare LF line ends',
    expect: 'error',
    parts: fc.constant([`POST ${MESSAGES} HTTP/1.1\nhost: runtime\ncontent-length: 2\n\n{}`]),
  },
  {
    name: 'a CR without its LF',
    expect: 'error',
    parts: fc.constant([`POST ${MESSAGES} HTTP/1.1\rhost: runtime\r\n\r\n`]),
  },
  {
    name: 'a flood of headers past the head limit',
    expect: 'error',
    runs: 2,
    parts: fc.integer({ min: 1_000, max: 5_000 }).map((count) =>
      request(json(message()), {
        headers: Array.from({ length: count }, (_, i) => [`x-flood-${String(i)}`, 'yes'] as const),
      }),
    ),
  },
  {
    name: 'the same header a thousand times',
    expect: 'error',
    runs: 2,
    parts: fc
      .integer({ min: 1_000, max: 3_000 })
      .map((count) =>
        request('{', { headers: Array.from({ length: count }, () => ['x-api-key', 'k'] as const) }),
      ),
  },
  {
    name: 'one header value larger than the head limit',
    expect: 'error',
    runs: 2,
    parts: fc
      .integer({ min: 17 * 1024, max: 256 * 1024 })
      .map((size) => request(json(message()), { headers: [['x-big', 'v'.repeat(size)]] })),
  },
  {
    name: 'a URL larger than the head limit',
    expect: 'error',
    runs: 2,
    parts: fc
      .integer({ min: 17 * 1024, max: 128 * 1024 })
      .map((size) => request(json(message()), { path: `${MESSAGES}?q=${'a'.repeat(size)}` })),
  },
  {
    name: 'two different Content-Lengths',
    expect: 'error',
    parts: fc
      .tuple(fc.nat(100), fc.nat(100))
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['content-length', String(a)],
          ['content-length', String(b)],
        ]),
        '{'.repeat(Math.max(a, b)),
      ]),
  },
  {
    name: 'a Content-Length that is no number',
    expect: 'error',
    parts: fc
      .constantFrom('abc', '1e3', '0x10', '+5', '5 5', '', '-1', '1.5', '99999999999999999999999')
      .map((length) => [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['content-length', length],
        ]),
        '{}',
      ]),
  },
  {
    name: 'Content-Length together with chunked Transfer-Encoding',
    expect: 'error',
    parts: fc.constant([
      head(`POST ${MESSAGES} HTTP/1.1`, [
        ['host', 'runtime'],
        ['content-type', 'application/json'],
        ['content-length', '4'],
        ['transfer-encoding', 'chunked'],
      ]),
      '2\r\n{}\r\n0\r\n\r\n',
    ]),
  },
  {
    name: 'a chunk size that is not hex',
    expect: 'error',
    parts: fc.constantFrom('zz', 'g', '-1', '0x2', ' ').map((size) => [
      head(`POST ${MESSAGES} HTTP/1.1`, [
        ['host', 'runtime'],
        ['content-type', 'application/json'],
        ['transfer-encoding', 'chunked'],
      ]),
      `${size}\r\n{}\r\n0\r\n\r\n`,
    ]),
  },
  {
    name: 'a chunk size too large to represent',
    expect: 'error',
    parts: fc.constant([
      head(`POST ${MESSAGES} HTTP/1.1`, [
        ['host', 'runtime'],
        ['content-type', 'application/json'],
        ['transfer-encoding', 'chunked'],
      ]),
      'ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
    ]),
  },
  {
    name: 'a chunk without its closing CRLF',
    expect: 'error',
    parts: fc.constant([
      head(`POST ${MESSAGES} HTTP/1.1`, [
        ['host', 'runtime'],
        ['content-type', 'application/json'],
        ['transfer-encoding', 'chunked'],
      ]),
      '2\r\n{}XX0\r\n\r\n',
    ]),
  },
  {
    name: 'a Transfer-Encoding other than chunked, or chunked not last',
    expect: 'error',
    parts: fc
      .constantFrom('gzip', 'bogus', 'chunked, gzip', 'identity', 'chunked;q=1')
      .map((te) => [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['transfer-encoding', te],
        ]),
        '2\r\n{}\r\n0\r\n\r\n',
      ]),
  },
  {
    name: 'HTTP/1.1 without a Host header',
    expect: 'error',
    parts: fc.constant([
      head(`POST ${MESSAGES} HTTP/1.1`, [
        ['content-type', 'application/json'],
        ['content-length', '2'],
      ]),
      '{}',
    ]),
  },

  // Sizes and truncation.
  {
    name: 'a body over the 8 MiB limit',
    expect: 'error',
    runs: 1,
    parts: fc
      .integer({ min: 8 * MiB + 1, max: 9 * MiB })
      .map((size) =>
        request(json(message({ messages: [{ role: 'user', content: 'x'.repeat(size) }] }))),
      ),
  },
  {
    name: 'a chunked body over the 8 MiB limit',
    expect: 'error',
    runs: 1,
    parts: fc.integer({ min: 8 * MiB + 1, max: 9 * MiB }).map((size) => {
      const chunk = 'x'.repeat(64 * 1024);
      const chunks = Math.ceil(size / chunk.length);
      return [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['transfer-encoding', 'chunked'],
          ['connection', 'close'],
        ]),
        ...Array.from({ length: chunks }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`),
        '0\r\n\r\n',
      ];
    }),
  },
  {
    name: 'a body cut short: the client stops sending',
    expect: 'error-or-closed',
    endAfterWriting: true,
    parts: fc.integer({ min: 1, max: 60 }).map((sent) => {
      const body = json(message());
      return [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['content-length', String(body.length + 100)],
        ]),
        body.slice(0, sent),
      ];
    }),
  },
  {
    name: 'a body longer than its Content-Length',
    expect: 'error',
    parts: fc.integer({ min: 1, max: 40 }).map((declared) => {
      const body = json(message());
      return [
        head(`POST ${MESSAGES} HTTP/1.1`, [
          ['host', 'runtime'],
          ['content-type', 'application/json'],
          ['content-length', String(declared)],
        ]),
        body,
      ];
    }),
  },
  { name: 'an empty body', expect: 'error', parts: fc.constant(request('')) },
  {
    name: 'a body of whitespace',
    expect: 'error',
    parts: fc
      .string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), minLength: 1, maxLength: 64 })
      .map((ws) => request(ws)),
  },

  // Text encoding.
  invalidUtf8(
    'a lone continuation byte',
    fc.integer({ min: 0x80, max: 0xbf }).map((b) => [0x61, b, 0x62]),
  ),
  invalidUtf8(
    'an overlong encoding',
    fc.constantFrom([0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf]),
  ),
  invalidUtf8(
    'an encoded surrogate',
    fc.integer({ min: 0xa0, max: 0xbf }).map((b) => [0xed, b, 0x80]),
  ),
  invalidUtf8('a sequence cut short', fc.constantFrom([0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98])),
  invalidUtf8(
    'bytes that never occur',
    fc.integer({ min: 0xf5, max: 0xff }).map((b) => [b]),
  ),
  {
    name: 'a UTF-16 body',
    expect: 'error',
    parts: fc
      .constantFrom('utf16le' as const)
      .map((encoding) => request(Buffer.from(json(message()), encoding))),
  },
  {
    name: 'a byte-order mark before the JSON',
    expect: 'error',
    parts: fc.constant(request(`\ufeff${json(message())}`)),
  },

  // JSON syntax.
  {
    name: 'JSON cut at a random point',
    expect: 'error',
    parts: fc
      .integer({ min: 1, max: json(message()).length - 1 })
      .map((at) => request(json(message()).slice(0, at))),
  },
  {
    name: 'garbage after the JSON',
    expect: 'error',
    parts: fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => s.trim() !== '')
      .map((junk) => request(json(message()) + junk)),
  },
  {
    name: 'comments in the JSON',
    expect: 'error',
    parts: fc
      .constantFrom('/* c */', '// c\n')
      .map((c) => request(`{${c}"model": "${PRIMARY_MODEL}", "max_tokens": 8, "messages": []}`)),
  },
  {
    name: 'single-quoted strings',
    expect: 'error',
    parts: fc.constant(request(`{'model': '${PRIMARY_MODEL}', 'max_tokens': 8}`)),
  },
  {
    name: 'NaN, Infinity and leading zeros',
    expect: 'error',
    parts: fc
      .constantFrom('NaN', 'Infinity', '-Infinity', '007', '.5', '1.')
      .map((n) =>
        request(
          `{"model":"${PRIMARY_MODEL}","max_tokens":${n},"messages":[{"role":"user","content":"hi"}]}`,
        ),
      ),
  },
  {
    name: 'arrays nested thousands deep in a message',
    expect: 'error',
    parts: fc
      .integer({ min: 1_000, max: 100_000 })
      .map((depth) =>
        request(
          `{"model":"${PRIMARY_MODEL}","max_tokens":8,"messages":[{"role":"user","content":${nested(depth, '[', ']')}}]}`,
        ),
      ),
  },
  {
    name: 'objects nested thousands deep in a field the API does not know',
    expect: 'error',
    parts: fc
      .integer({ min: 1_000, max: 100_000 })
      .map((depth) =>
        request(
          `{"model":"${PRIMARY_MODEL}","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"deep":${nested(depth, '{"a":', '}')}}`,
        ),
      ),
  },
  {
    name: 'a __proto__ key',
    expect: 'error',
    parts: fc.constant(
      request(
        `{"model":"${PRIMARY_MODEL}","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"__proto__":{"polluted":true}}`,
      ),
    ),
  },
  {
    name: 'a constructor.prototype key',
    expect: 'error',
    parts: fc.constant(
      request(
        `{"model":"${PRIMARY_MODEL}","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"constructor":{"prototype":{"polluted":true}}}`,
      ),
    ),
  },
  {
    name: 'a duplicate key whose last value has the wrong type',
    expect: 'error',
    parts: fc
      .constantFrom('model', 'max_tokens', 'messages')
      .chain((key) =>
        wrongJsonValue
          .filter((v) => !(typeof v === 'string' && key === 'model' && v !== ''))
          .map((value) => request(`${json(message()).slice(0, -1)},"${key}":${json(value)}}`)),
      ),
  },

  // The shape of a Messages request.
  {
    name: 'a huge messages list with one bad entry',
    expect: 'error',
    runs: 2,
    parts: fc.integer({ min: 10_000, max: 150_000 }).chain((length) =>
      fc.integer({ min: 0, max: length - 1 }).map((bad) =>
        request(
          json(
            message({
              messages: Array.from({ length }, (_, i) =>
                i === bad
                  ? { role: 'robot', content: 'x' }
                  : { role: i % 2 === 0 ? 'user' : 'assistant', content: 'x' },
              ),
            }),
          ),
        ),
      ),
    ),
  },
  {
    name: 'messages that are not objects',
    expect: 'error',
    parts: fc
      .array(fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean()), {
        minLength: 1,
        maxLength: 5,
      })
      .map((messages) => request(json(message({ messages })))),
  },
  {
    name: 'messages that are not a list, or an empty one',
    expect: 'error',
    parts: fc
      .oneof(fc.constant([]), fc.constant({}), fc.string(), fc.integer(), fc.constant(null))
      .map((messages) => request(json(message({ messages })))),
  },
  {
    name: 'a role other than user or assistant',
    expect: 'error',
    parts: fc
      .oneof(fc.string(), fc.constantFrom('system', 'USER', 'tool', ''), fc.integer())
      .filter((r) => r !== 'user' && r !== 'assistant')
      .map((role) => request(json(message({ messages: [{ role, content: 'x' }] })))),
  },
  {
    name: 'content that is neither text nor blocks',
    expect: 'error',
    parts: fc
      .oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.dictionary(token, fc.string()))
      .map((content) => request(json(message({ messages: [{ role: 'user', content }] })))),
  },
  {
    name: 'max_tokens that is no whole number of at least 1',
    expect: 'error',
    parts: fc
      .oneof(
        fc.integer({ max: 0 }),
        fc.double({ min: 0.01, max: 1e6, noInteger: true }),
        fc.string(),
        fc.constant(null),
        fc.boolean(),
      )
      .map((max) => request(json(message({ max_tokens: max })))),
  },
  {
    name: 'a model that is no name',
    expect: 'error',
    parts: fc
      .oneof(
        fc.constant(''),
        fc.integer(),
        fc.constant(null),
        fc.string({ minLength: 257, maxLength: 100_000 }),
      )
      .map((model) => request(json(message({ model })))),
  },
  {
    name: 'a stream flag that is not a boolean',
    expect: 'error',
    parts: fc
      .oneof(fc.string(), fc.integer(), fc.constant(null))
      .map((stream) => request(json(message({ stream })))),
  },
  {
    name: 'a temperature outside 0 to 1',
    expect: 'error',
    parts: fc
      .oneof(
        fc.double({ min: 1.0001, max: 1e9, noNaN: true }),
        fc.double({ max: -0.0001, noNaN: true, min: -1e9 }),
        fc.string(),
        fc.constant(null),
      )
      .map((temperature) => request(json(message({ temperature })))),
  },
  {
    name: 'tools or stop sequences that are not lists',
    expect: 'error',
    parts: fc
      .tuple(
        fc.constantFrom('tools', 'stop_sequences'),
        fc.oneof(fc.string(), fc.integer(), fc.dictionary(token, fc.string())),
      )
      .map(([key, value]) => request(json(message({ [key]: value })))),
  },
  {
    name: 'a system prompt that is neither text nor blocks',
    expect: 'error',
    parts: fc
      .oneof(fc.integer(), fc.boolean(), fc.dictionary(token, fc.string()))
      .map((system) => request(json(message({ system })))),
  },
  {
    name: 'a top-level field the API does not know',
    expect: 'error',
    parts: token
      .filter(
        (k) =>
          !['model', 'messages', 'system', 'stream', 'tools', 'metadata', 'container'].includes(k),
      )
      .map((key) => request(json(message({ [`x${key}`]: 1 })))),
  },

  {
    // Valid JSON that whatever walks it recursively (the journal's canonical form,
    // JSON.stringify) could not: refused before it is parsed, on every JSON route.
    name: 'a body nested thousands deep, in a field or whole',
    expect: 'error',
    parts: fc
      .tuple(
        fc.integer({ min: 300, max: 6_000 }),
        fc.constantFrom(
          '/v1/messages',
          '/v1/agent/invoke',
          '/v1/agent/runs',
          '/v1/messages/count_tokens',
        ),
        fc.boolean(),
      )
      .map(([depth, path, inField]) => {
        const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        // A content block's field, where a conversation's history carries it.
        const turn = { role: 'user', content: [{ type: 'text', text: 'x', z: 0 }] };
        const valid = path.startsWith('/v1/agent')
          ? { input: 'hi', history: [turn] }
          : message({ messages: [turn] });
        const body = inField ? json(valid).replace('"z":0', `"z":${deep}`) : deep;
        return request(body, { path });
      }),
  },

  // Content types.
  {
    name: 'a JSON body sent as another media type',
    expect: 'error',
    parts: fc
      .constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/octet-stream',
        'image/png',
      )
      .map((type) => request(json(message()), { contentType: type })),
  },
  {
    name: 'a body without a Content-Type',
    expect: 'error',
    parts: fc.constant(request(json(message()), { contentType: undefined })),
  },
  {
    name: 'a media type that only looks like JSON',
    expect: 'error',
    parts: fc
      .constantFrom(
        'application/jsonp',
        'application/json-seq',
        'json',
        'application/',
        '/json',
        'application/json\u0000',
      )
      .map((type) => request(json(message()), { contentType: type })),
  },
  {
    name: 'a compressed-looking body that is not',
    expect: 'error',
    parts: fc
      .uint8Array({ minLength: 1, maxLength: 256 })
      .map((bytes) => request(Buffer.from(bytes), { headers: [['content-encoding', 'gzip']] })),
  },

  // Routes and methods.
  {
    name: 'a method the Messages route does not take',
    expect: 'error',
    parts: fc
      .constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS')
      .map((method) => request(json(message()), { method })),
  },
  {
    name: 'a path that does not exist',
    expect: 'error',
    parts: fc
      .array(token, { minLength: 1, maxLength: 6 })
      .chain((segments) =>
        fc
          .constantFrom('', '/../..', '/%zz', '/%00', '//')
          .map((tail) => request(json(message()), { path: `/${segments.join('/')}${tail}` })),
      ),
  },
  {
    name: 'a flood of query parameters',
    expect: 'error',
    runs: 2,
    parts: fc.integer({ min: 500, max: 1_500 }).map((count) =>
      request('{', {
        path: `${MESSAGES}?${Array.from({ length: count }, (_, i) => `p${String(i)}=1`).join('&')}`,
      }),
    ),
  },
  {
    name: 'count_tokens with a malformed body',
    expect: 'error',
    parts: fc
      .oneof(
        fc.constant('{'),
        fc.constant(json({ model: PRIMARY_MODEL, max_tokens: 8, messages: [] })),
        fc.constant(json({ messages: 'x' })),
      )
      .map((body) => request(body, { path: `${MESSAGES}/count_tokens` })),
  },
  {
    name: 'agent/invoke with input that is not text',
    expect: 'error',
    parts: fc
      .oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.array(fc.string()))
      .map((input) => request(json({ input }), { path: '/v1/agent/invoke' })),
  },
  {
    name: 'agent/invoke with malformed history or session',
    expect: 'error',
    parts: fc
      .oneof(
        fc.constant({ input: 'hi', history: 'x' }),
        fc.constant({ input: 'hi', sessionId: 's'.repeat(300) }),
        fc.constant({ input: 'hi', stream: 'yes' }),
        fc.constant({ input: 'hi', extra: 1 }),
      )
      .map((body) => request(json(body), { path: '/v1/agent/invoke' })),
  },

  // How the bytes arrive.
  {
    name: 'twenty malformed requests pipelined on one connection',
    expect: 'error',
    runs: 2,
    parts: fc
      .array(fc.constantFrom('{', '[]', json(message({ max_tokens: 0 })), json({ model: 5 })), {
        minLength: 20,
        maxLength: 20,
      })
      .map((bodies) =>
        bodies.flatMap((body, i) => [
          head(`POST ${MESSAGES} HTTP/1.1`, [
            ['host', 'runtime'],
            ['content-type', 'application/json'],
            ['content-length', String(Buffer.byteLength(body))],
            ...(i === bodies.length - 1 ? [['connection', 'close'] as const] : []),
          ]),
          body,
        ]),
      ),
  },
  {
    name: 'a head dribbled in a few bytes at a time',
    expect: 'error',
    runs: 2,
    parts: fc.integer({ min: 2, max: 8 }).map((step) => {
      const body = '{"model":';
      const requestHead = jsonHead(body.length);
      const pieces: Part[] = [];
      for (let i = 0; i < requestHead.length; i += step)
        pieces.push(requestHead.slice(i, i + step), { pauseMs: 5 });
      return [...pieces, body];
    }),
  },
  {
    name: 'a body dribbled in a byte at a time',
    expect: 'error',
    runs: 2,
    parts: fc
      .constant(json(message({ max_tokens: -1 })))
      .map((body) => [
        jsonHead(body.length),
        ...body.split('').flatMap((c): Part[] => [c, { pauseMs: 2 }]),
      ]),
  },
  {
    name: 'an Expect header the server does not know',
    expect: 'error',
    parts: fc
      .constantFrom('200-ok', 'bogus', '100-continued')
      .map((value) => request(json(message()), { headers: [['expect', value]] })),
  },
];

// ---- The check ---------------------------------------------------------------------------

/** Why `response` is not a 4xx Anthropic error, or undefined when it is one. */
export function notAnAnthropicError(response: RawResponse): string | undefined {
  const text = response.body.toString('utf8');
  const summary = `${String(response.status)} ${text.slice(0, 200)}`;
  if (response.status < 400 || response.status > 499) return `status ${summary}`;
  if (!(response.headers['content-type'] ?? '').startsWith('application/json'))
    return `content-type ${response.headers['content-type'] ?? 'none'}: ${summary}`;
  try {
    const body = JSON.parse(text) as {
      type?: unknown;
      error?: { type?: unknown; message?: unknown };
    };
    if (
      body.type !== 'error' ||
      typeof body.error?.type !== 'string' ||
      typeof body.error.message !== 'string'
    )
      return `shape ${summary}`;
  } catch {
    return `not JSON: ${summary}`;
  }
  return undefined;
}

// ---- Policy file mutations ---------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value in `value`: [] is the root. */
function paths(value: Json, at: (string | number)[] = []): (string | number)[][] {
  const here = [at];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => paths(v, [...at, i]))];
  if (value !== null && typeof value === 'object')
    return [...here, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...at, k]))];
  return here;
}

function setAt(root: Json, path: readonly (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path.at(-1) ?? '';
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else Reflect.deleteProperty(node, last);
  } else node[last] = value;
  return copy;
}

/** A mutation of the good document's text. */
export function mutation(good: Json): fc.Arbitrary<string> {
  const text = JSON.stringify(good);
  const allPaths = paths(good);
  return fc.oneof(
    fc.integer({ min: 0, max: text.length - 1 }).map((at) => text.slice(0, at)),
    fc
      .tuple(
        fc.integer({ min: 0, max: text.length - 1 }),
        fc.string({ minLength: 1, maxLength: 3 }),
      )
      .map(([at, s]) => text.slice(0, at) + s + text.slice(at + 1)),
    fc
      .tuple(fc.constantFrom(...allPaths), fc.jsonValue({ maxDepth: 2 }))
      .map(([path, value]) => JSON.stringify(setAt(good, path, value as Json))),
    fc
      .constantFrom(...allPaths.filter((p) => p.length > 0))
      .map((path) => JSON.stringify(setAt(good, path, undefined))),
    fc.string({ maxLength: 200 }),
    fc.constantFrom('', 'null', '[]', '{}', '{"version": 1}', text.repeat(2)),
  );
}

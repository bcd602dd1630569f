/**
 * Every shape a client key can take in a request's headers, for one caller beside another
 * accepted key: the tests of who is calling (test/runtime/callerIdentity.test.ts, the
 * adversarial suite) send these, each with what an agent that enforces client keys should
 * make of it (docs/guarantees.md I1, I2). Headers are names and values alternating, as Node's
 * `rawHeaders` holds them, sent exactly as written: order, repeats and empty values kept.
 */

/** Who a shape should be taken for by an agent that enforces client keys. */
export type Reading =
  /** The key's own caller, or the other key's. */
  | { readonly as: 'caller' | 'other' }
  /** 401: no key, or not an accepted one. */
  | { readonly refused: 'missing' | 'invalid' }
  /** 401 naming the header: it could be read two ways. */
  | { readonly ambiguous: string };

export interface CredentialShape {
  readonly name: string;
  readonly headers: readonly string[];
  readonly reading: Reading;
}

const caller = { as: 'caller' } as const;
const ambiguous = (message: string) => ({ ambiguous: message });
const NOT_BEARER = 'header Authorization must be "Bearer <client key>"';

/** Every shape of `key`'s credential, `other` being another accepted key. */
export function credentialShapes(key: string, other: string): readonly CredentialShape[] {
  return [
    { name: 'no credential', headers: [], reading: { refused: 'missing' } },
    { name: 'x-api-key', headers: ['x-api-key', key], reading: caller },
    { name: 'Authorization: Bearer', headers: ['authorization', `Bearer ${key}`], reading: caller },
    {
      name: 'both headers, one key',
      headers: ['x-api-key', key, 'authorization', `Bearer ${key}`],
      reading: caller,
    },
    { name: 'bearer in lower case', headers: ['authorization', `bearer ${key}`], reading: caller },
    { name: 'Bearer and a tab', headers: ['authorization', `Bearer\t${key}`], reading: caller },
    {
      name: 'the key between spaces (HTTP trims them)',
      headers: ['x-api-key', `  ${key} `],
      reading: caller,
    },
    { name: "the other caller's key", headers: ['x-api-key', other], reading: { as: 'other' } },
    {
      name: 'two different keys',
      headers: ['x-api-key', key, 'authorization', `Bearer ${other}`],
      reading: ambiguous('headers x-api-key and Authorization carry different client keys'),
    },
    {
      name: "two different keys, the other caller's in x-api-key",
      headers: ['x-api-key', other, 'authorization', `Bearer ${key}`],
      reading: ambiguous('headers x-api-key and Authorization carry different client keys'),
    },
    {
      name: 'an empty x-api-key beside Bearer',
      headers: ['x-api-key', '', 'authorization', `Bearer ${key}`],
      reading: ambiguous('header x-api-key is empty beside Authorization'),
    },
    {
      name: 'an empty Authorization beside x-api-key',
      headers: ['x-api-key', key, 'authorization', ''],
      reading: ambiguous('header Authorization is empty beside x-api-key'),
    },
    {
      name: 'x-api-key twice, one key',
      headers: ['x-api-key', key, 'x-api-key', key],
      reading: ambiguous('header x-api-key is sent more than once'),
    },
    {
      name: 'x-api-key twice, in two spellings',
      headers: ['X-Api-Key', key, 'x-api-key', key],
      reading: ambiguous('header x-api-key is sent more than once'),
    },
    {
      name: 'x-api-key twice, an empty one first',
      headers: ['x-api-key', '', 'x-api-key', key],
      reading: ambiguous('header x-api-key is sent more than once'),
    },
    {
      name: 'x-api-key twice, then the other key',
      headers: ['x-api-key', key, 'x-api-key', other],
      reading: ambiguous('header x-api-key is sent more than once'),
    },
    {
      name: 'Authorization twice, then the other key',
      headers: ['authorization', `Bearer ${key}`, 'authorization', `Bearer ${other}`],
      reading: ambiguous('header Authorization is sent more than once'),
    },
    {
      name: 'Authorization: Basic',
      headers: ['authorization', 'Basic YWxpY2U6eA=='],
      reading: ambiguous(NOT_BEARER),
    },
    {
      name: 'Authorization: Basic beside x-api-key',
      headers: ['x-api-key', key, 'authorization', 'Basic YWxpY2U6eA=='],
      reading: ambiguous(NOT_BEARER),
    },
    {
      name: 'Authorization: the key without a scheme',
      headers: ['authorization', key],
      reading: ambiguous(NOT_BEARER),
    },
    {
      name: 'Authorization: Bearer and no key',
      headers: ['x-api-key', key, 'authorization', 'Bearer'],
      reading: ambiguous(NOT_BEARER),
    },
    {
      name: 'Bearer and two words',
      headers: ['authorization', `Bearer ${key} ${key}`],
      reading: ambiguous(NOT_BEARER),
    },
    {
      name: 'an empty x-api-key alone',
      headers: ['x-api-key', ''],
      reading: { refused: 'missing' },
    },
    {
      name: 'an empty Authorization alone',
      headers: ['authorization', ''],
      reading: { refused: 'missing' },
    },
    {
      name: 'a wrong key',
      headers: ['x-api-key', 'bw-mallory-key'],
      reading: { refused: 'invalid' },
    },
    {
      name: 'the key in upper case',
      headers: ['x-api-key', key.toUpperCase()],
      reading: { refused: 'invalid' },
    },
    {
      name: 'the key and one more byte (latin1)',
      headers: ['x-api-key', `${key}\u00e9`],
      reading: { refused: 'invalid' },
    },
    {
      name: 'x-api-key carrying "Bearer <key>"',
      headers: ['x-api-key', `Bearer ${key}`],
      reading: { refused: 'invalid' },
    },
    {
      name: 'Bearer and two spaces',
      headers: ['authorization', `Bearer  ${key}`],
      reading: caller,
    },
    {
      name: 'x-api-key carrying both keys, joined by a comma',
      headers: ['x-api-key', `${key},${other}`],
      reading: { refused: 'invalid' },
    },
    {
      name: 'Authorization carrying two Bearer keys, joined by a comma',
      headers: ['authorization', `Bearer ${key}, Bearer ${other}`],
      reading: ambiguous(NOT_BEARER),
    },
    {
      // HTTP does not fold `_` into `-`; a proxy may drop the header.
      name: 'x_api_key, with an underscore',
      headers: ['x_api_key', key],
      reading: { refused: 'missing' },
    },
  ];
}

/** The shapes that name `key`'s caller alone. */
export const callerShapes = (key: string, other: string): readonly CredentialShape[] =>
  credentialShapes(key, other).filter((s) => 'as' in s.reading && s.reading.as === 'caller');

/** The shapes that carry `key` and could be read two ways: refused with 401 naming the header. */
export const ambiguousShapes = (key: string, other: string): readonly CredentialShape[] =>
  credentialShapes(key, other).filter((s) => 'ambiguous' in s.reading);

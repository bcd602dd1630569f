import { describe, expect, it } from '@jest/globals';
import { JournalCipher, JournalKeyError, parseJournalKey } from './journalCipher.ts';
import { decodeStep, encodeDone, stepHeader, type ModelAnswer } from './journalEntry.ts';

const KEY = Buffer.alloc(32, 7);
const answer: ModelAnswer = {
  kind: 'model',
  status: 200,
  stream: false,
  body: '{"content":[{"type":"text","text":"the secret plan"}]}',
  model: 'claude-sonnet-5-5',
  backend: 'default',
  usage: { input_tokens: 12, output_tokens: 34 },
};

describe('the journal key', () => {
  it.each([
    { name: '32 raw bytes', value: KEY },
    {
      name: 'base64, with the newline a file keeps',
      value: Buffer.from(`${KEY.toString('base64')}\n`),
    },
    { name: 'hex', value: Buffer.from(KEY.toString('hex')) },
  ])('is read from $name', ({ value }) => {
    expect(parseJournalKey(value)).toEqual(KEY);
  });

  it.each([
    { name: 'too short', value: Buffer.from('short'), got: 'got 5 bytes;' },
    {
      name: 'base64 of 16 bytes',
      value: Buffer.from(Buffer.alloc(16, 3).toString('base64')),
      got: 'got 16 bytes (base64, 24 characters);',
    },
    {
      name: 'hex of 20 bytes',
      value: Buffer.from(Buffer.alloc(20, 3).toString('hex')),
      got: 'got 20 bytes (hex, 40 characters);',
    },
  ])(
    'is refused when $name, naming the field, what it holds and how to make one',
    ({ value, got }) => {
      expect(() => parseJournalKey(value)).toThrow(JournalKeyError);
      expect(() => parseJournalKey(value)).toThrow(
        /durability\.encryptionKeySecretRef.*openssl rand -base64 32/,
      );
      expect(() => parseJournalKey(value)).toThrow(got);
    },
  );
});

describe('a journal entry', () => {
  const cipher = new JournalCipher(KEY);
  const match = cipher.match('{"model":"claude-sonnet-5-5"}');

  it('reads back what was written, for the same run', () => {
    const entry = encodeDone(cipher, 'run-1', match, answer);
    expect(entry.startsWith(stepHeader('model', 'done', match))).toBe(true);
    expect(decodeStep(cipher, 'run-1', entry)).toEqual({
      kind: 'model',
      done: true,
      match,
      answer,
    });
  });

  it('holds neither the answer nor the request in the clear', () => {
    const entry = encodeDone(cipher, 'run-1', match, answer);
    expect(entry).not.toContain('secret plan');
    expect(Buffer.from(entry.slice(66), 'base64').toString('latin1')).not.toContain('secret');
    expect(match).not.toContain('claude');
  });

  it.each([
    { name: 'another run', read: (e: string) => decodeStep(cipher, 'run-2', e) },
    {
      name: 'another key',
      read: (e: string) => decodeStep(new JournalCipher(Buffer.alloc(32, 8)), 'run-1', e),
    },
    {
      name: 'a changed byte',
      read: (e: string) => decodeStep(cipher, 'run-1', `${e.slice(0, -4)}AAA=`),
    },
    {
      name: 'another kind in its header',
      read: (e: string) => decodeStep(cipher, 'run-1', `t${e.slice(1)}`),
    },
  ])('cannot be read under $name', ({ read }) => {
    const entry = encodeDone(cipher, 'run-1', match, answer);
    expect(() => read(entry)).toThrow();
  });

  it('seals every entry under an IV of its own, the pool drawn again as it runs out', () => {
    const cipher = new JournalCipher(KEY);
    const sealed = Array.from({ length: 600 }, (_, i) =>
      cipher.seal(Buffer.from(`entry ${i}`), 'c'),
    );
    const ivs = new Set(sealed.map((s) => s.subarray(0, 12).toString('hex')));
    expect(ivs.size).toBe(600);
    expect(sealed.map((s) => cipher.open(s, 'c').toString())).toEqual(
      Array.from({ length: 600 }, (_, i) => `entry ${i}`),
    );
  });

  it('started, has no answer: its outcome is unknown', () => {
    expect(decodeStep(cipher, 'run-1', stepHeader('tool', 'started', match))).toEqual({
      kind: 'tool',
      done: false,
      match,
    });
  });

  it('matches a request by a keyed hash: the same request alike, another key apart', () => {
    expect(cipher.match('a')).toBe(new JournalCipher(KEY).match('a'));
    expect(cipher.match('a')).not.toBe(cipher.match('b'));
    expect(cipher.match('a')).not.toBe(new JournalCipher(Buffer.alloc(32, 9)).match('a'));
    expect(cipher.match('a')).toMatch(/^[0-9a-f]{64}$/);
  });
});

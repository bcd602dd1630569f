import { describe, expect, it } from '@jest/globals';
import { scrubSecrets } from './errorReplies.ts';
import { checkMessagesBody } from './messagesValidation.ts';

describe('an error message leaving the process', () => {
  it.each([
    ['an API key', 'key sk-ant-api03-abcdefgh was refused', 'key [redacted] was refused'],
    [
      'a long token with letters',
      `token ${'a1'.repeat(20)} is invalid`,
      'token [redacted] is invalid',
    ],
    [
      'a long number, an amount the caller must read',
      `this call may cost up to ${'9'.repeat(36)}.45385 USD`,
      `this call may cost up to ${'9'.repeat(36)}.45385 USD`,
    ],
  ])('hides a key and keeps the rest: %s', (_case, message, sent) => {
    expect(scrubSecrets(message)).toBe(sent);
  });
});

describe('max_tokens', () => {
  it.each([1e40, 2 ** 53, 1.5, 0])('is refused when it is %s, naming the field', (value) => {
    const checked = checkMessagesBody({
      model: 'claude-haiku-5-5',
      max_tokens: value,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(checked).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^max_tokens: must be a whole number from 1 to /) as unknown,
    });
  });
});

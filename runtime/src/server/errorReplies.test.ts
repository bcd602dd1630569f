import { describe, expect, it } from '@jest/globals';
import { errorHeaders, rawHttpError, refusal, scrubSecrets } from './errorReplies.ts';
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

describe('an error answer', () => {
  it.each([
    ['a refusal of its own', refusal(401, 'authentication_error', 'no key'), 'req_own'],
    [
      "the provider's error",
      { ...refusal(529, 'overloaded_error', 'busy'), requestId: 'req_011P' },
      'req_011P',
    ],
  ])('names its id in the request-id header and the body: %s', (_case, mapping, id) => {
    expect(errorHeaders(mapping, 'req_own')['request-id']).toBe(id);
    const raw = rawHttpError(mapping, 'req_own');
    expect(raw).toContain(`\r\nrequest-id: ${id}\r\n`);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { request_id?: string };
    expect(body.request_id).toBe(id);
  });

  it('says x-should-retry: false only when asking again cannot help', () => {
    expect(errorHeaders(refusal(400, 'invalid_request_error', 'bad'), 'r')).toMatchObject({
      'x-should-retry': 'false',
    });
    expect(errorHeaders(refusal(503, 'api_error', 'later', 1), 'r')).toEqual({
      'content-type': 'application/json',
      'request-id': 'r',
      'retry-after': '1',
    });
  });
});

import { describe, expect, it } from '@jest/globals';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import { estimateInputTokens, estimateTokens } from './tokenEstimate.ts';

function request(body: Record<string, unknown>): MessagesRequest {
  const parsed = parseMessagesRequest({ model: 'm', max_tokens: 10, ...body });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.request;
}

describe('estimateTokens', () => {
  it.each([
    ['nothing', '', 0],
    ['one character', 'a', 1],
    ['four characters', 'abcd', 1],
    ['five characters', 'abcde', 2],
  ])('counts %s at four characters a token', (_name, text, tokens) => {
    expect(estimateTokens(text)).toBe(tokens);
  });
});

describe('estimateInputTokens', () => {
  it.each([
    ['a single user message', { messages: [{ role: 'user', content: 'x'.repeat(40) }] }, 10],
    [
      'the system prompt with the messages',
      { system: 'y'.repeat(20), messages: [{ role: 'user', content: 'x'.repeat(20) }] },
      10,
    ],
    [
      'tool calls and tool results',
      {
        messages: [
          { role: 'user', content: 'abcd' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'ab', input: {} }] },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't1', content: 'abcdefgh' }],
          },
        ],
      },
      4,
    ],
    [
      'tool definitions',
      {
        tools: [{ name: 'abcd', description: 'abcd', input_schema: {} }],
        messages: [{ role: 'user', content: 'ab' }],
      },
      3,
    ],
    ['at least one token', { messages: [{ role: 'user', content: '' }] }, 1],
  ])('counts %s', (_name, body, tokens) => {
    expect(estimateInputTokens(request(body))).toBe(tokens);
  });
});

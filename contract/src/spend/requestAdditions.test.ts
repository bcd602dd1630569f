import { describe, expect, it } from '@jest/globals';
import { requestAdditions } from './requestAdditions.ts';

const tool = { name: 'lookup', input_schema: { type: 'object' } };
const user = (content: unknown) => ({ role: 'user', content });

describe('what the provider adds to a request and bills', () => {
  it.each([
    ['nothing for a plain request', { messages: [user('hi')] }, undefined],
    [
      'the auto tool-use prompt for tools without tool_choice',
      { tools: [tool] },
      { toolChoice: 'auto' },
    ],
    [
      'the auto prompt under none',
      { tools: [tool], tool_choice: { type: 'none' } },
      { toolChoice: 'auto' },
    ],
    [
      'the any prompt under any',
      { tools: [tool], tool_choice: { type: 'any' } },
      { toolChoice: 'any' },
    ],
    [
      'the any prompt under a named tool',
      { tools: [tool], tool_choice: { type: 'tool', name: 'lookup' } },
      { toolChoice: 'any' },
    ],
    ['no prompt for an empty tools list', { tools: [] }, undefined],
    [
      'web_search with max_uses: its uses',
      { tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 4 }] },
      { toolChoice: 'auto', serverToolUses: { web_search: 4 } },
    ],
    [
      'web_search without max_uses: unbounded, saying what to set',
      { tools: [{ type: 'web_search_20250305', name: 'web_search' }] },
      {
        toolChoice: 'auto',
        unbounded: 'server tool web_search has no max_uses: set max_uses to bound its fees',
      },
    ],
    [
      'images anywhere, a URL one too, inside tool results as well',
      {
        messages: [
          user([
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
            {
              type: 'tool_result',
              tool_use_id: 't',
              content: [{ type: 'image', source: { type: 'base64', data: 'AA==' } }],
            },
          ]),
        ],
      },
      { images: 2 },
    ],
    [
      'a text document: its bytes bound it',
      { messages: [user([{ type: 'document', source: { type: 'text', data: 'x' } }])] },
      undefined,
    ],
    [
      'the bash tool: its documented 325 tokens',
      { tools: [{ type: 'bash_20250124', name: 'bash' }] },
      { toolChoice: 'auto', clientToolTokens: 325 },
    ],
    [
      'the text editor of Claude 4 (20250429): 722 tokens, the larger reading',
      { tools: [{ type: 'text_editor_20250429', name: 'str_replace_based_edit_tool' }] },
      { toolChoice: 'auto', clientToolTokens: 722 },
    ],
    [
      'two computer use tools: 735 tokens each and their system prompt of 499 once',
      {
        tools: [
          { type: 'computer_20250124', name: 'computer' },
          { type: 'computer_20250124', name: 'second_screen' },
        ],
      },
      { toolChoice: 'auto', clientToolTokens: 1_969 },
    ],
  ])('%s', (_name, body, additions) => {
    expect(requestAdditions(body)).toEqual(additions);
  });

  it.each(['text_editor_20250728', 'memory_20250818', 'bash_20241022'])(
    'cannot bound the client tool %s, which has no documented figure',
    (type) => {
      const additions = requestAdditions({ tools: [{ type, name: 'x' }] });
      expect(additions?.unbounded).toMatch(
        new RegExp(`tool type ${type} adds what the provider bills`),
      );
      expect(additions?.clientToolTokens).toBeUndefined();
    },
  );

  it.each([
    ['a PDF by URL', { type: 'url', url: 'https://example.com/a.pdf' }],
    ['a PDF in base64', { type: 'base64', media_type: 'application/pdf', data: 'AA==' }],
    ['a file by id', { type: 'file', file_id: 'file_1' }],
  ])('cannot bound %s and says what to do instead', (_name, source) => {
    const additions = requestAdditions({ messages: [user([{ type: 'document', source }])] });
    expect(additions?.unbounded).toMatch(/send its text as a text document/);
  });

  it('cannot bound a tool the provider bills by its own measure', () => {
    const additions = requestAdditions({ tools: [{ type: 'code_execution_20250825', name: 'x' }] });
    expect(additions?.unbounded).toMatch(/code_execution_20250825/);
  });
});

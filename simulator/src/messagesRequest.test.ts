import { describe, expect, it } from '@jest/globals';
import { parseMessagesRequest } from './messagesRequest.ts';

const valid = { model: 'claude-sim', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };

describe('parseMessagesRequest', () => {
  it('reads a minimal request with defaults for everything optional', () => {
    expect(parseMessagesRequest(valid)).toEqual({
      ok: true,
      request: {
        model: 'claude-sim',
        maxTokens: 100,
        messages: [{ role: 'user', content: [{ kind: 'text', text: 'Hi' }] }],
        system: '',
        stream: false,
        tools: [],
        serverTools: [],
        toolChoice: { type: 'auto' },
        stopSequences: [],
        segments: [{ prefixHash: expect.any(String), prefixChars: 2, breakpoint: undefined }],
      },
    });
  });

  it('reads content blocks, system blocks, client tools and tool_choice', () => {
    const parsed = parseMessagesRequest({
      ...valid,
      stream: true,
      system: [{ type: 'text', text: 'Be brief.' }],
      tools: [
        { name: 'f', input_schema: { type: 'object' } },
        { type: 'web_search_20250305', name: 'web_search' },
      ],
      tool_choice: { type: 'tool', name: 'f' },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: {} },
            { type: 'text', text: 'Hi' },
          ],
        },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [{ type: 'text', text: 'done' }],
              is_error: true,
            },
          ],
        },
      ],
    });
    expect(parsed).toMatchObject({
      ok: true,
      request: {
        stream: true,
        system: 'Be brief.',
        tools: [{ name: 'f', description: '', inputSchema: { type: 'object' } }],
        toolChoice: { type: 'tool', name: 'f' },
        messages: [
          {
            role: 'user',
            content: [
              { kind: 'other', type: 'image' },
              { kind: 'text', text: 'Hi' },
            ],
          },
          {
            role: 'assistant',
            content: [{ kind: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }],
          },
          {
            role: 'user',
            content: [{ kind: 'tool_result', toolUseId: 't1', text: 'done', isError: true }],
          },
        ],
      },
    });
  });

  it.each<[string, unknown, string]>([
    ['a body that is not an object', [], 'body'],
    ['a missing model', { ...valid, model: undefined }, 'model'],
    ['an empty model', { ...valid, model: '' }, 'model'],
    ['a missing max_tokens', { ...valid, max_tokens: undefined }, 'max_tokens'],
    ['a max_tokens of zero', { ...valid, max_tokens: 0 }, 'max_tokens'],
    ['a fractional max_tokens', { ...valid, max_tokens: 1.5 }, 'max_tokens'],
    ['a missing messages', { ...valid, messages: undefined }, 'messages'],
    ['an empty messages', { ...valid, messages: [] }, 'messages'],
    ['a message that is not an object', { ...valid, messages: ['hi'] }, 'messages.0'],
    ['a missing role', { ...valid, messages: [{ content: 'x' }] }, 'messages.0.role'],
    ['a missing content', { ...valid, messages: [{ role: 'user' }] }, 'messages.0.content'],
    [
      'a block without type',
      { ...valid, messages: [{ role: 'user', content: [{}] }] },
      'messages.0.content.0.type',
    ],
    [
      'a tool_result without tool_use_id',
      { ...valid, messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] },
      'messages.0.content.0.tool_use_id',
    ],
    [
      'a tool_use without input',
      {
        ...valid,
        messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f' }] }],
      },
      'messages.0.content.0.input',
    ],
    ['a system of the wrong type', { ...valid, system: 3 }, 'system'],
    ['a non-boolean stream', { ...valid, stream: 'yes' }, 'stream'],
    ['tools that is not a list', { ...valid, tools: {} }, 'tools'],
    ['a tool without input_schema', { ...valid, tools: [{ name: 'f' }] }, 'tools.0.input_schema'],
    [
      'a tool with a bad name',
      { ...valid, tools: [{ name: 'a b', input_schema: {} }] },
      'tools.0.name',
    ],
    [
      'two tools of the same name',
      {
        ...valid,
        tools: [
          { name: 'f', input_schema: {} },
          { name: 'f', input_schema: {} },
        ],
      },
      'tools.1.name',
    ],
    ['an unknown tool_choice', { ...valid, tool_choice: { type: 'some' } }, 'tool_choice.type'],
    [
      'a tool_choice naming a missing tool',
      { ...valid, tool_choice: { type: 'tool', name: 'g' } },
      'tool_choice.name',
    ],
    ['stop_sequences of numbers', { ...valid, stop_sequences: [1] }, 'stop_sequences'],
    ['a temperature above 1', { ...valid, temperature: 1.5 }, 'temperature'],
    ['a negative top_k', { ...valid, top_k: -1 }, 'top_k'],
  ])('refuses %s, naming the field', (_name, body, field) => {
    const parsed = parseMessagesRequest(body);
    expect(parsed).toMatchObject({ ok: false, field });
    if (!parsed.ok) expect(parsed.message.startsWith(`${field}: `)).toBe(true);
  });

  it('does not need max_tokens when counting tokens', () => {
    const parsed = parseMessagesRequest(
      { ...valid, max_tokens: undefined },
      { requireMaxTokens: false },
    );
    expect(parsed.ok).toBe(true);
  });

  it('lets fields it does not interpret through', () => {
    const parsed = parseMessagesRequest({
      ...valid,
      metadata: { user_id: 'u' },
      service_tier: 'auto',
    });
    expect(parsed.ok).toBe(true);
  });

  it('reads extended thinking, and takes disabled thinking for none', () => {
    const enabled = parseMessagesRequest({
      ...valid,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
    expect(enabled.ok && enabled.request.thinking).toEqual({ budgetTokens: 1024 });
    const disabled = parseMessagesRequest({ ...valid, thinking: { type: 'disabled' } });
    expect(disabled.ok && disabled.request.thinking).toBeUndefined();
    const adaptive = parseMessagesRequest({ ...valid, thinking: { type: 'adaptive' } });
    expect(adaptive.ok && adaptive.request.thinking).toEqual({ budgetTokens: 99 });
  });

  it.each<[string, unknown, number, string]>([
    [
      'no budget_tokens',
      { type: 'enabled' },
      2048,
      'thinking.enabled.budget_tokens: Field required',
    ],
    [
      'budget_tokens under 1024',
      { type: 'enabled', budget_tokens: 1023 },
      2048,
      'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024',
    ],
    [
      'budget_tokens not under max_tokens',
      { type: 'enabled', budget_tokens: 1024 },
      1024,
      '`max_tokens` must be greater than `thinking.budget_tokens`.',
    ],
    ['an unknown type', { type: 'on' }, 2048, 'thinking: Input tag "on" found using \'type\''],
  ])('refuses thinking with %s as the API does', (_name, thinking, maxTokens, message) => {
    const parsed = parseMessagesRequest({ ...valid, max_tokens: maxTokens, thinking });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message.startsWith(message)).toBe(true);
  });

  it('refuses content and tool inputs nested thousands deep with the field, never overflowing', () => {
    const deep = (depth: number, leaf: unknown): unknown => {
      let value = leaf;
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    const nestedContent = parseMessagesRequest({
      ...valid,
      messages: [{ role: 'user', content: deep(60_000, 1) }],
    });
    expect(nestedContent).toMatchObject({ ok: false, field: 'messages.0.content.0' });
    const nestedInput = parseMessagesRequest({
      ...valid,
      messages: [
        { role: 'user', content: 'look it up' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_1', name: 'find', input: { q: deep(60_000, 1) } },
          ],
        },
      ],
    });
    expect(nestedInput).toMatchObject({ ok: false, field: 'body' });
  });
});

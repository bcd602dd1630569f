import { describe, expect, it } from '@jest/globals';
import { parseMessagesRequest, type MessagesRequest } from './messagesRequest.ts';
import { decideTurn, wholeWordIndex } from './toolUseDecision.ts';

const tools = [
  { name: 'get_weather', input_schema: { type: 'object' } },
  { name: 'search', input_schema: { type: 'object' } },
];

function request(prompt: string, extra: Record<string, unknown> = {}): MessagesRequest {
  const parsed = parseMessagesRequest({
    model: 'm',
    max_tokens: 100,
    messages: [{ role: 'user', content: prompt }],
    ...extra,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.request;
}

function chosenTool(prompt: string, extra: Record<string, unknown> = {}): string | undefined {
  const decision = decideTurn(request(prompt, extra));
  return decision.kind === 'call_tool' ? decision.tool.name : undefined;
}

describe('decideTurn', () => {
  it.each<[string, string, Record<string, unknown>, string | undefined]>([
    ['calls the tool named with "use tool"', 'use tool search for boats', { tools }, 'search'],
    [
      'calls a tool named anywhere in the text',
      'what does get_weather say?',
      { tools },
      'get_weather',
    ],
    [
      'calls the tool named first when several are',
      'search, then get_weather',
      { tools },
      'search',
    ],
    ['does not match a name inside a longer word', 'research get_weathers', { tools }, undefined],
    ['answers in text when no tool is named', 'hello', { tools }, undefined],
    ['answers in text when no tools are given', 'use tool search', {}, undefined],
    [
      'calls the first tool when tool_choice is any',
      'hello',
      { tools, tool_choice: { type: 'any' } },
      'get_weather',
    ],
    [
      'calls the tool tool_choice names over one in the text',
      'use search',
      { tools, tool_choice: { type: 'tool', name: 'get_weather' } },
      'get_weather',
    ],
    [
      'never calls a tool when tool_choice is none',
      'use search',
      { tools, tool_choice: { type: 'none' } },
      undefined,
    ],
  ])('%s', (_name, prompt, extra, tool) => {
    expect(chosenTool(prompt, extra)).toBe(tool);
  });

  it('answers tool results when the last user message carries them, even if a tool is named', () => {
    const parsed = parseMessagesRequest({
      model: 'm',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'use search' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search', input: {} }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'found' },
            { type: 'text', text: 'use search again' },
          ],
        },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.message);
    expect(decideTurn(parsed.request)).toEqual({
      kind: 'answer_tool_results',
      results: [{ kind: 'tool_result', toolUseId: 't1', text: 'found', isError: false }],
    });
  });

  it('takes the prompt from the last user message, skipping an assistant prefill', () => {
    const parsed = parseMessagesRequest({
      model: 'm',
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'second' },
            { type: 'text', text: 'part' },
          ],
        },
        { role: 'assistant', content: 'Sure,' },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.message);
    expect(decideTurn(parsed.request)).toEqual({ kind: 'text', prompt: 'second\npart' });
  });
});

describe('wholeWordIndex', () => {
  it.each([
    ['at the start', 'f(x)', 'f', 0],
    ['after a space', 'use f', 'f', 4],
    ['skipping a match inside a word', 'ff f', 'f', 3],
    ['not at all', 'off', 'f', -1],
  ])('finds a word %s', (_name, text, word, at) => {
    expect(wholeWordIndex(text, word)).toBe(at);
  });

  it('keeps calling a tool asked for over and over, whatever came back (a model stuck in a loop)', () => {
    const tools = [{ name: 'search', description: 'Searches.', input_schema: { type: 'object' } }];
    const first = parseMessagesRequest({
      model: 'm',
      max_tokens: 16,
      tools,
      messages: [{ role: 'user', content: 'use tool search over and over' }],
    });
    expect(first.ok && decideTurn(first.request)).toMatchObject({ kind: 'call_tool' });
    const after = parseMessagesRequest({
      model: 'm',
      max_tokens: 16,
      tools,
      messages: [
        { role: 'user', content: 'use tool search over and over' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'nothing' }] },
      ],
    });
    expect(after.ok && decideTurn(after.request)).toMatchObject({ kind: 'call_tool' });
  });
});

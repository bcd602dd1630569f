import { describe, expect, it } from '@jest/globals';
import type { IdPrefix } from './ids.ts';
import { parseMessagesRequest } from './messagesRequest.ts';
import { SEARCH_RESULT_TOKENS, planReply } from './replyPlan.ts';

const newId = (prefix: IdPrefix) => `${prefix}_test`;

const tool = {
  name: 'lookup',
  input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
};

function plan(body: Record<string, unknown>) {
  const parsed = parseMessagesRequest({ model: 'claude-sim', max_tokens: 1000, ...body });
  if (!parsed.ok) throw new Error(parsed.message);
  return planReply(parsed.request, newId);
}

const say = (text: string) => ({ messages: [{ role: 'user', content: text }] });

describe('planReply', () => {
  it('echoes the last user message and counts tokens at four characters each', () => {
    expect(plan(say('Hello there'))).toEqual({
      id: 'msg_test',
      model: 'claude-sim',
      content: [{ type: 'text', text: 'You said: Hello there' }],
      stopReason: 'end_turn',
      stopSequence: null,
      inputTokens: 3,
      outputTokens: 6,
    });
  });

  it('answers a message without text with a fixed reply', () => {
    expect(
      plan({ messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }).content,
    ).toEqual([{ type: 'text', text: 'Simulated reply.' }]);
  });

  it.each([
    [
      'cuts the text at max_tokens',
      { ...say('0123456789'), max_tokens: 3 },
      'You said: 01',
      'max_tokens',
      null,
      3,
    ],
    [
      'cuts the text at the earliest stop sequence',
      { ...say('a b c'), stop_sequences: ['c', 'b'] },
      'You said: a ',
      'stop_sequence',
      'b',
      3,
    ],
    [
      'leaves a reply that fits alone',
      { ...say('abc'), max_tokens: 4 },
      'You said: abc',
      'end_turn',
      null,
      4,
    ],
  ] as const)('%s', (_name, body, text, stopReason, stopSequence, outputTokens) => {
    expect(plan(body)).toMatchObject({
      content: [{ type: 'text', text }],
      stopReason,
      stopSequence,
      outputTokens,
    });
  });

  it('calls a tool with a short text first and counts the call in the output', () => {
    expect(plan({ ...say('please lookup boats'), tools: [tool] })).toMatchObject({
      content: [
        { type: 'text', text: 'Calling lookup.' },
        { type: 'tool_use', id: 'toolu_test', name: 'lookup', input: { q: 'example q' } },
      ],
      stopReason: 'tool_use',
      outputTokens: 4 + Math.ceil(('lookup' + '{"q":"example q"}').length / 4),
    });
  });

  it('drops a tool call that max_tokens leaves no room for', () => {
    expect(plan({ ...say('please lookup boats'), tools: [tool], max_tokens: 5 })).toMatchObject({
      content: [{ type: 'text', text: 'Calling lookup.' }],
      stopReason: 'max_tokens',
      outputTokens: 4,
    });
  });

  it('answers tool results by tool name, one line each, marking failures', () => {
    const reply = plan({
      tools: [tool],
      messages: [
        { role: 'user', content: 'lookup twice' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 't1', name: 'lookup', input: { q: 'a' } },
            { type: 'tool_use', id: 't2', name: 'lookup', input: { q: 'b' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'found a' },
            { type: 'tool_result', tool_use_id: 't2', content: 'no such b', is_error: true },
            { type: 'tool_result', tool_use_id: 'unknown', content: 'stray' },
          ],
        },
      ],
    });
    expect(reply).toMatchObject({
      content: [
        {
          type: 'text',
          text: 'lookup returned: found a\nlookup failed: no such b\nunknown returned: stray',
        },
      ],
      stopReason: 'end_turn',
    });
  });

  describe('a plan of steps (use tool <name> <N> times)', () => {
    /** The conversation after `done` steps, each answered. */
    function after(done: number, of = 3) {
      const messages: unknown[] = [
        { role: 'user', content: `Use tool lookup ${String(of)} times.` },
      ];
      for (let step = 1; step <= done; step++) {
        messages.push({
          role: 'assistant',
          content: [{ type: 'tool_use', id: `t${String(step)}`, name: 'lookup', input: {} }],
        });
        messages.push({
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: `t${String(step)}`, content: 'ok' }],
        });
      }
      return plan({ tools: [tool], messages });
    }

    it.each([0, 1, 2])('calls the tool again after %i steps, its input naming the next', (done) => {
      expect(after(done)).toMatchObject({
        content: [
          { type: 'text', text: 'Calling lookup.' },
          {
            type: 'tool_use',
            name: 'lookup',
            input: { q: `example q, step ${String(done + 1)} of 3` },
          },
        ],
        stopReason: 'tool_use',
      });
    });

    it('answers the last result once every step is done', () => {
      expect(after(3)).toMatchObject({
        content: [{ type: 'text', text: 'lookup returned: ok' }],
        stopReason: 'end_turn',
      });
    });

    it('is no plan for a tool the request does not offer', () => {
      expect(plan({ ...say('Use tool search 3 times.'), tools: [tool] })).toMatchObject({
        stopReason: 'end_turn',
      });
    });
  });
});

describe('what the API adds to the input and bills', () => {
  const hello = say('Hello there');
  const inputOf = (body: Record<string, unknown>) => plan({ ...hello, ...body }).inputTokens;
  const plain = inputOf({});
  const toolChars = 'lookup'.length + JSON.stringify(tool.input_schema).length;
  const withTool = Math.ceil(('Hello there'.length + toolChars) / 4);

  it.each([
    ['auto (the default) on a model the table does not list: the current figure', {}, 346],
    ['none', { tool_choice: { type: 'none' } }, 346],
    ['any', { tool_choice: { type: 'any' } }, 313],
    ['a named tool', { tool_choice: { type: 'tool', name: 'lookup' } }, 313],
    ['auto on Claude 3 Haiku', { model: 'claude-3-haiku-20240307' }, 264],
    [
      'any on Claude 3 Haiku',
      { model: 'claude-3-haiku-20240307', tool_choice: { type: 'any' } },
      340,
    ],
  ])('bills the tool-use system prompt under %s', (_name, body, prompt) => {
    expect(inputOf({ tools: [tool], ...body })).toBe(withTool + prompt);
  });

  it('bills no tool-use prompt without tools', () => {
    expect(plain).toBe(3);
  });

  it.each([
    ['searches max_uses times', { max_uses: 2 }, 2],
    ['searches three times without max_uses', {}, 3],
  ])('a web_search server tool %s, each billed as a search', (_name, limit, searches) => {
    const reply = plan({
      ...hello,
      tools: [{ type: 'web_search_20250305', name: 'web_search', ...limit }],
    });
    expect(reply.webSearches).toBe(searches);
    expect(reply.inputTokens).toBe(Math.ceil('Hello there'.length / 4) + 346);
    expect(reply.searchResultTokens).toBe(searches * SEARCH_RESULT_TOKENS);
  });

  it("bills each search's results at the tokens it is told", () => {
    const parsed = parseMessagesRequest({
      model: 'claude-sim',
      max_tokens: 1000,
      ...hello,
      tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
    });
    if (!parsed.ok) throw new Error(parsed.message);
    expect(planReply(parsed.request, newId, 7_500).searchResultTokens).toBe(15_000);
  });
});

describe('planReply with extended thinking', () => {
  const thinking = (budget: number) => ({ thinking: { type: 'enabled', budget_tokens: budget } });

  it('begins with a signed thinking block and bills its full thinking: more than its summary', () => {
    const reply = plan({ ...say('Hello there'), ...thinking(1024), max_tokens: 2048 });
    const [block, text] = reply.content;
    expect(block?.type).toBe('thinking');
    expect(text).toEqual({ type: 'text', text: 'You said: Hello there' });
    if (block?.type !== 'thinking') throw new Error('no thinking block');
    expect(block.signature.length).toBeGreaterThan(0);
    expect(block.billedTokens).toBeGreaterThan(Math.ceil(block.thinking.length / 4));
    expect(reply.outputTokens).toBe(block.billedTokens + 6);
  });

  it('thinks no more than budget_tokens, and counts thinking toward max_tokens', () => {
    const reply = plan({ ...say('x'.repeat(4000)), ...thinking(1024), max_tokens: 1100 });
    const [block] = reply.content;
    expect(block?.type === 'thinking' && block.billedTokens).toBe(1024);
    expect(reply.outputTokens).toBe(1100);
    expect(reply.stopReason).toBe('max_tokens');
  });
});

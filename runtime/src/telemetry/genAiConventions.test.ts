import { describe, expect, it } from '@jest/globals';
import { answerText, heapGrowthOf } from '../../../test/support/heapGrowth.ts';
import { responseMetaOfAnswer } from '../provider/responseMeta.ts';
import {
  chatRequestAttributes,
  chatSpanName,
  genAiLatestOptIn,
  genAiPeer,
  inputTokensOf,
  ownString,
  setChatResponseAttributes,
} from './genAiConventions.ts';

/** What setChatResponseAttributes sets, as one object. */
function chatResponseAttributes(
  response: Parameters<typeof setChatResponseAttributes>[1],
  usage: Parameters<typeof setChatResponseAttributes>[2],
): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  setChatResponseAttributes(
    {
      setAttribute: (key, value) => {
        set[key] = value;
      },
    },
    response,
    usage,
  );
  return set;
}

describe('the GenAI conventions as Breakwater maps them', () => {
  it.each([
    ['Anthropic', 'https://api.anthropic.com', 'anthropic', 'api.anthropic.com', '443'],
    [
      'Bedrock',
      'https://bedrock-runtime.us-east-1.amazonaws.com',
      'aws.bedrock',
      'bedrock-runtime.us-east-1.amazonaws.com',
      '443',
    ],
    [
      'Vertex',
      'https://europe-west4-aiplatform.googleapis.com',
      'gcp.vertex_ai',
      'europe-west4-aiplatform.googleapis.com',
      '443',
    ],
    ['Anthropic', 'http://127.0.0.1:8787/', 'anthropic', '127.0.0.1', '8787'],
    ['Anthropic', 'http://simulator', 'anthropic', 'simulator', '80'],
    ['Anthropic', 'http://[::1]:9000', 'anthropic', '::1', '9000'],
  ] as const)('names a %s backend at %s as %s on %s:%s', (type, url, provider, address, port) => {
    expect(genAiPeer(type, url)).toEqual({ provider, address, port });
  });

  it('leaves server.address out for a base URL that does not parse', () => {
    const peer = genAiPeer('Bedrock', '');
    expect(peer).toEqual({ provider: 'aws.bedrock', address: '', port: '' });
    expect(chatRequestAttributes({ model: 'm', maxTokens: undefined, peer })).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'aws.bedrock',
      'gen_ai.request.model': 'm',
    });
  });

  it("names a model call's span 'chat {model}' and gives it the request's attributes", () => {
    expect(chatSpanName('claude-sonnet-4-5')).toBe('chat claude-sonnet-4-5');
    expect(
      chatRequestAttributes({
        model: 'claude-sonnet-4-5',
        maxTokens: 1024,
        peer: genAiPeer('Anthropic', 'http://localhost:4000'),
      }),
    ).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.request.max_tokens': 1024,
      'server.address': 'localhost',
      'server.port': 4000,
    });
  });

  it('counts cache reads and writes into the input tokens, and reports them on their own too', () => {
    const usage = {
      input_tokens: 10,
      output_tokens: 7,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 50,
    };
    expect(inputTokensOf(usage)).toBe(160);
    expect(
      chatResponseAttributes({ id: 'msg_1', model: 'claude-x', finishReason: 'end_turn' }, usage),
    ).toEqual({
      'gen_ai.usage.input_tokens': 160,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.cache_creation.input_tokens': 50,
      'gen_ai.response.model': 'claude-x',
      'gen_ai.response.id': 'msg_1',
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
  });

  it('gives an answer without cache use or meta only its token counts', () => {
    expect(chatResponseAttributes(undefined, { input_tokens: 3, output_tokens: 4 })).toEqual({
      'gen_ai.usage.input_tokens': 3,
      'gen_ai.usage.output_tokens': 4,
    });
  });

  it.each([
    '',
    'end_turn',
    'msg_01XFDUDYJgAACzvnptvVoYEL',
    'claude-sonnet-4-5-20250929',
    'modèle-ü-日本語-0123456789',
  ])('gives %p back as the same text', (text) => {
    const within = `{"x":"${text}"}`;
    expect(ownString(within.slice(6, 6 + text.length))).toBe(text);
  });

  it("keeps none of the answer's text alive in the strings it gives a span", () => {
    // A span waits for its batch with these; cut from the whole answer (responseMeta.ts),
    // they would hold it alive with them.
    const { bytes, kept } = heapGrowthOf(() =>
      Array.from({ length: 128 }, (_, i) =>
        chatResponseAttributes(
          responseMetaOfAnswer(
            answerText(`msg_01XFDUDYJgAACzvnpt${String(i)}`, 'claude-sonnet-4-5-20250929', 1 << 16),
          ),
          { input_tokens: 1, output_tokens: 1 },
        ),
      ),
    );
    // 128 answers of 64 KiB: kept with their strings, the heap would have grown by 8 MiB.
    expect(bytes).toBeLessThan(2 << 20);
    expect((kept as unknown[])[127]).toMatchObject({
      'gen_ai.response.id': 'msg_01XFDUDYJgAACzvnpt127',
      'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
      'gen_ai.response.finish_reasons': ['max_tokens_reached'],
    });
  });

  it.each([
    [undefined, false],
    ['', false],
    ['http', false],
    ['gen_ai_latest_experimental', true],
    ['http/dup, gen_ai_latest_experimental', true],
    ['gen_ai_latest_experimental_not', false],
  ])('reads OTEL_SEMCONV_STABILITY_OPT_IN=%p as opting in: %p', (value, latest) => {
    expect(genAiLatestOptIn({ OTEL_SEMCONV_STABILITY_OPT_IN: value })).toBe(latest);
  });
});

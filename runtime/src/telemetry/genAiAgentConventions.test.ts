import { describe, expect, it } from '@jest/globals';
import {
  agentIdentity,
  agentRequestAttributes,
  agentResponseAttributes,
  agentSpanName,
  mcpToolCallAttributes,
  mcpToolCallSpanName,
  toolCallAttributes,
  toolErrorType,
  toolSpanName,
} from './genAiAgentConventions.ts';

const doc = (
  backends: { type?: 'Anthropic' | 'Bedrock' | 'Vertex'; priority?: number }[],
): Parameters<typeof agentIdentity>[0] => ({
  agent: { name: 'support', namespace: 'shop' },
  model: { name: 'claude-sonnet-4-5' },
  backends,
});

describe('the bundled agent’s runs as invoke_agent spans', () => {
  it('names the span after the agent and says who it is, its model and its conversation', () => {
    const agent = agentIdentity(doc([{}]), 'session-7');
    expect(agentSpanName(agent.name)).toBe('invoke_agent support');
    expect(agentRequestAttributes(agent)).toEqual({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.agent.name': 'support',
      'gen_ai.agent.id': 'shop/support',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.conversation.id': 'session-7',
    });
  });

  it.each([
    ['no session', undefined],
    ['an empty session id', ''],
  ])('leaves gen_ai.conversation.id out with %s', (_, session) => {
    expect(agentRequestAttributes(agentIdentity(doc([{}]), session))).not.toHaveProperty(
      'gen_ai.conversation.id',
    );
  });

  it.each([
    ['the only backend’s', [{ type: 'Bedrock' as const }], 'aws.bedrock'],
    [
      'the backend tried first’s (lowest priority)',
      [
        { type: 'Anthropic' as const, priority: 2 },
        { type: 'Vertex' as const, priority: 1 },
      ],
      'gcp.vertex_ai',
    ],
    [
      'the first listed among equal priorities',
      [{ type: 'Bedrock' as const }, { type: 'Anthropic' as const }],
      'aws.bedrock',
    ],
    ['Anthropic’s for a backend of the default type', [{ priority: 0 }], 'anthropic'],
  ])('takes the provider name from %s', (_, backends, provider) => {
    expect(agentRequestAttributes(agentIdentity(doc(backends), undefined))).toMatchObject({
      'gen_ai.provider.name': provider,
    });
  });

  it('sums the run’s tokens with the cache’s reads and writes in the input, as a chat span does', () => {
    expect(
      agentResponseAttributes({
        model: 'claude-haiku-4-5',
        stopReason: 'end_turn',
        usage: { input_tokens: 120, output_tokens: 48 },
        cache: { read: 1000, creation: 30 },
      }),
    ).toEqual({
      'gen_ai.usage.input_tokens': 1150,
      'gen_ai.usage.output_tokens': 48,
      'gen_ai.usage.cache_read.input_tokens': 1000,
      'gen_ai.usage.cache_creation.input_tokens': 30,
      'gen_ai.response.model': 'claude-haiku-4-5',
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
  });
});

describe('tool calls as execute_tool spans', () => {
  it.each([
    ['an HTTP tool', 'lookup_order', 'function'],
    ['an MCP server’s tool', 'tickets__create', 'extension'],
  ] as const)('marks %s (%s) as a %s', (_, name, type) => {
    expect(toolSpanName(name)).toBe(`execute_tool ${name}`);
    expect(toolCallAttributes({ name, id: 'toolu_01', type })).toEqual({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': name,
      'gen_ai.tool.type': type,
      'gen_ai.tool.call.id': 'toolu_01',
    });
  });

  it('leaves the call id out when the model gave none', () => {
    expect(toolCallAttributes({ name: 't', id: '', type: 'function' })).not.toHaveProperty(
      'gen_ai.tool.call.id',
    );
  });

  it.each([
    ['a call the guard could not make', 'Timeout', { isError: true, failure: 'Timeout' }],
    ['a tool outside the allow-list', 'NotAllowed', { isError: true, failure: 'NotAllowed' }],
    ['a tool that answered with an error', 'tool_error', { isError: true }],
    ['a tool that answered', undefined, { isError: false }],
  ])('gives %s the error.type %s', (_, errorType, outcome) => {
    expect(toolErrorType(outcome)).toBe(errorType);
  });
});

describe('a tools/call through /mcp as the MCP conventions’ server span', () => {
  it('names the method and tool, and the request and session it came on', () => {
    expect(mcpToolCallSpanName('create')).toBe('tools/call create');
    expect(mcpToolCallAttributes({ tool: 'create', requestId: 7, sessionId: 's-1' })).toEqual({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'create',
      'gen_ai.tool.type': 'extension',
      'jsonrpc.request.id': '7',
      'mcp.session.id': 's-1',
    });
  });

  it('leaves out the request and session ids a call did not have', () => {
    const attributes = mcpToolCallAttributes({
      tool: 'create',
      requestId: undefined,
      sessionId: undefined,
    });
    expect(attributes).not.toHaveProperty('jsonrpc.request.id');
    expect(attributes).not.toHaveProperty('mcp.session.id');
  });
});

/** The single calls of attacks 1 and 5 (calls.ts, upstream.ts), each with the fault set before it. */
import { FALLBACK_MODEL, plain, PRIMARY_MODEL, type CallOptions } from './harness.ts';
import type { FaultRequest } from '../../test/support/simulator.ts';

export interface Step {
  name: string;
  o: CallOptions;
  fault?: FaultRequest | FaultRequest[];
  settleMs?: number;
}

const BIG = 'x'.repeat(3_000_000);
export const STEPS: Step[] = [
  { name: 'plain', o: { body: plain('Hi') } },
  { name: 'no anthropic-version', o: { body: plain('Hi'), headers: { 'anthropic-version': '' } } },
  {
    name: 'anthropic-beta passed',
    o: { body: plain('Hi'), headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' } },
  },
  {
    name: 'caller request-id header',
    o: { body: plain('Hi'), headers: { 'request-id': 'req_caller1', 'x-request-id': 'caller-x' } },
  },
  {
    name: 'max_tokens absent',
    o: { body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }] } },
  },
  { name: 'max_tokens above policy', o: { body: plain('Hi', { max_tokens: 100000 }) } },
  {
    name: 'model absent',
    o: { body: { max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] } },
  },
  { name: 'unknown model', o: { body: { ...plain('Hi'), model: 'claude-nonexistent-0' } } },
  { name: 'fallback by name', o: { body: { ...plain('Hi'), model: FALLBACK_MODEL } } },
  {
    name: 'system + temperature + metadata',
    o: {
      body: plain('Hi', { system: 'Be brief.', temperature: 0.2, metadata: { user_id: 'u1' } }),
    },
  },
  {
    name: 'tools',
    o: {
      body: plain('Weather?', {
        tools: [{ name: 'w', description: 'd', input_schema: { type: 'object' } }],
      }),
    },
  },
  { name: 'invalid JSON', o: { rawBody: '{"model":' } },
  { name: 'empty body', o: { rawBody: '' } },
  { name: 'messages empty', o: { body: plain('x', { messages: [] }) } },
  { name: 'unknown field', o: { body: plain('Hi', { frobnicate: 1 }) } },
  { name: 'huge body 3MB', o: { body: plain(BIG) } },
  { name: 'no key', o: { body: plain('Hi'), key: null } },
  { name: 'wrong key', o: { body: plain('Hi'), key: 'bk-nope' } },
  {
    name: 'bearer key',
    o: {
      body: plain('Hi'),
      key: null,
      headers: { authorization: 'Bearer bk-attack-client-key-0123456789abcdef' },
    },
  },
  {
    name: 'count_tokens',
    o: {
      path: '/v1/messages/count_tokens',
      body: { model: PRIMARY_MODEL, messages: [{ role: 'user', content: 'Hi' }] },
    },
  },
  { name: 'models', o: { path: '/v1/models', method: 'GET' } },
  { name: 'models/id', o: { path: `/v1/models/${PRIMARY_MODEL}`, method: 'GET' } },
  {
    name: 'durable run header',
    o: { body: plain('Hi'), headers: { 'breakwater-run-id': 'r1', 'breakwater-run-attempt': '1' } },
  },
  { name: 'stream', o: { body: plain('Hi', { stream: true }) } },
  {
    name: 'stream, beta header',
    o: { body: plain('Hi', { stream: true }), headers: { 'anthropic-beta': 'x-1' } },
  },
  {
    name: 'provider 429 retry-after 1, then ok',
    o: { body: plain('Hi') },
    fault: { status: 429, count: 1, retryAfterSeconds: 1 },
    settleMs: 1300,
  },
  {
    name: 'provider 429 always',
    o: { body: plain('Hi') },
    fault: { status: 429, retryAfterSeconds: 1 },
    settleMs: 1300,
  },
  { name: 'provider 529 always', o: { body: plain('Hi') }, fault: { status: 529 } },
  { name: 'provider 401', o: { body: plain('Hi') }, fault: { status: 401, count: 1 } },
  { name: 'provider 413', o: { body: plain('Hi') }, fault: { status: 413, count: 1 } },
  { name: 'provider 503 x1', o: { body: plain('Hi') }, fault: { status: 503, count: 1 } },
  {
    name: 'primary 529 always, fallback ok',
    o: { body: plain('Hi') },
    fault: { status: 529, model: PRIMARY_MODEL },
  },
  { name: 'drop before response x1', o: { body: plain('Hi') }, fault: { drop: true, count: 1 } },
  {
    name: 'drop mid-response x1',
    o: { body: plain('Hi') },
    fault: { drop: 'mid-response', count: 1 },
  },
  { name: 'drop always', o: { body: plain('Hi') }, fault: { drop: true } },
  {
    name: 'hang past timeout (plain)',
    o: { body: plain('Hi') },
    fault: { hang: true, count: 1 },
    settleMs: 800,
  },
  { name: 'slow 300ms', o: { body: plain('Hi') }, fault: { latencyMs: 300, count: 1 } },
  {
    name: 'caller leaves before answer',
    o: { body: plain('Hi'), abortAfterMs: 150 },
    fault: { latencyMs: 600, count: 1 },
    settleMs: 900,
  },
  {
    name: 'caller leaves during retry backoff',
    o: { body: plain('Hi'), abortAfterMs: 150 },
    fault: [{ status: 429, count: 1, retryAfterSeconds: 1 }],
    settleMs: 2000,
  },
  {
    name: 'stream error before content x1',
    o: { body: plain('Hi', { stream: true }) },
    fault: { status: 529, count: 1, inStream: 'before-content' },
  },
  {
    name: 'stream error before content always',
    o: { body: plain('Hi', { stream: true }) },
    fault: { status: 529, inStream: 'before-content' },
  },
  {
    name: 'stream error after content',
    o: { body: plain('Hi', { stream: true }) },
    fault: { status: 529, count: 1, inStream: 'after-content' },
  },
  {
    name: 'stream plain 500 x1',
    o: { body: plain('Hi', { stream: true }) },
    fault: { status: 500, count: 1 },
  },
  {
    name: 'stream drop after content',
    o: { body: plain('Hi', { stream: true }) },
    fault: { drop: true, count: 1, inStream: 'after-content' },
  },
  {
    name: 'stream drop before content',
    o: { body: plain('Hi', { stream: true }) },
    fault: { drop: true, count: 1, inStream: 'before-content' },
  },
  {
    name: 'stream stall after content',
    o: { body: plain('Hi', { stream: true }) },
    fault: { hang: true, count: 1, inStream: 'after-content' },
  },
  {
    name: 'stream stall before content',
    o: { body: plain('Hi', { stream: true }) },
    fault: { hang: true, count: 1, inStream: 'before-content' },
  },
  {
    name: 'stream cut by caller after first chunk',
    o: {
      body: plain('Tell me a long story', { stream: true, max_tokens: 60 }),
      abortAfterMs: 'first-chunk',
    },
    settleMs: 800,
  },
  {
    name: 'stream caller leaves before headers',
    o: { body: plain('Hi', { stream: true }), abortAfterMs: 150 },
    fault: { latencyMs: 600, count: 1 },
    settleMs: 900,
  },
  {
    name: 'SDK beta path ?beta=true',
    o: {
      path: '/v1/messages?beta=true',
      body: plain('Hi'),
      headers: { 'anthropic-beta': 'token-efficient-tools-2025-02-19' },
    },
  },
  {
    name: 'SDK beta path, stream',
    o: { path: '/v1/messages?beta=true', body: plain('Hi', { stream: true }) },
  },
  { name: 'trailing slash', o: { path: '/v1/messages/', body: plain('Hi') } },
  { name: 'GET /v1/messages', o: { path: '/v1/messages', method: 'GET' } },
  {
    name: 'text/plain content-type',
    o: { rawBody: JSON.stringify(plain('Hi')), headers: { 'content-type': 'text/plain' } },
  },
  {
    name: 'x-api-key and a different bearer',
    o: { body: plain('Hi'), headers: { authorization: 'Bearer bk-other' } },
  },
  {
    name: 'odd anthropic-version',
    o: { body: plain('Hi'), headers: { 'anthropic-version': '1999-01-01' } },
  },
  { name: 'stream as a string', o: { body: plain('Hi', { stream: 'true' }) } },
  { name: 'stream false', o: { body: plain('Hi', { stream: false }) } },
  { name: 'max_tokens 0', o: { body: plain('Hi', { max_tokens: 0 }) } },
  { name: 'max_tokens 1', o: { body: plain('Hi', { max_tokens: 1 }) } },
  {
    name: 'assistant prefill last',
    o: {
      body: plain('Hi', {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Sure,' },
        ],
      }),
    },
  },
  {
    name: 'content blocks + image',
    o: {
      body: plain('Hi', {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } },
              {
                type: 'image',
                source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
              },
            ],
          },
        ],
      }),
    },
  },
  { name: 'model with spaces', o: { body: { ...plain('Hi'), model: ` ${PRIMARY_MODEL} ` } } },
  { name: 'model alias -latest', o: { body: { ...plain('Hi'), model: 'claude-sonnet-latest' } } },
  {
    name: 'duplicate JSON keys',
    o: {
      rawBody: `{"model":"x","model":"${PRIMARY_MODEL}","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]}`,
    },
  },
  {
    name: 'thinking + tool_choice',
    o: {
      body: plain('Hi', {
        max_tokens: 2048,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        tool_choice: { type: 'auto' },
        tools: [{ name: 't', description: 'd', input_schema: { type: 'object' } }],
      }),
    },
  },
  {
    name: 'stop_sequences + top_k',
    o: { body: plain('Hi', { stop_sequences: ['said'], top_k: 5, top_p: 0.9 }) },
  },
  { name: 'service_tier + container', o: { body: plain('Hi', { service_tier: 'auto' }) } },
  { name: 'plain after everything', o: { body: plain('Hi') } },
];

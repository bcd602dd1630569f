import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { AgentRuntime } from '../agentRuntime.ts';
import { budgetsSettled } from '../guard/guardSet/answerSettlements.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../../contract/src/api/sampleModels.ts';
import type {
  BudgetSettings,
  ModelPriceSettings,
} from '../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { createLogger } from '../telemetry/logger.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { buildApiServer } from './apiServer.ts';
import { unlistenedOptions } from '../runtimeFixture.ts';

const NOON = Date.parse('2026-11-24T12:00:00Z');
/** $3 per million input tokens, $15 per million output. */
const PRICE: ModelPriceSettings = {
  model: PRIMARY_MODEL,
  inputMicroUsdPerMTok: 3_000_000,
  outputMicroUsdPerMTok: 15_000_000,
  cacheWrite5mMicroUsdPerMTok: 3_750_000,
  cacheWrite1hMicroUsdPerMTok: 6_000_000,
  cacheReadMicroUsdPerMTok: 300_000,
};
/** A cent a day: less than one call's worst case with max_tokens 1,000 ($0.015 of output). */
const DAILY: BudgetSettings = {
  name: 'daily',
  period: 'Day',
  limitMicroUsd: 10_000,
  per: 'Agent',
  onExhausted: 'Refuse',
  warnAtPercent: 80,
  waitForHeldMs: 0,
};

let app: FastifyInstance | undefined;
let provider: Server | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
  const server = provider;
  server?.closeAllConnections(); // the runtime's pooled connection to it
  if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  provider = undefined;
});

/** A provider on loopback that answers every call with a short message; notes the models asked for. */
async function loopbackProvider(): Promise<{ baseURL: string; models: string[] }> {
  const models: string[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const model = (JSON.parse(text) as { model: string }).model;
      models.push(model);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: 'On its way.' }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 12, output_tokens: 4 },
        }),
      );
    });
  });
  provider = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseURL: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, models };
}

/** The runtime's routes in process, on a policy with `budgets`; the backend is never reached. */
function routes(
  budgets: readonly BudgetSettings[],
  pricing: readonly ModelPriceSettings[] = [PRICE],
  baseURL?: string,
): { app: FastifyInstance; runtime: AgentRuntime } {
  const runtime = new AgentRuntime({
    options: unlistenedOptions(),
    env: { ANTHROPIC_API_KEY: 'sk-ant-test' },
    clock: new ManualClock(NOON),
    logger: createLogger('silent'),
  });
  const doc = samplePolicyDocument();
  const result = runtime.store.offerDocument(
    {
      ...doc,
      rateLimit: { ...doc.rateLimit, spend: { shareOf: 1, timeZone: 'UTC', budgets } },
      backends: doc.backends.map((b) => (baseURL === undefined ? b : { ...b, baseURL })),
      ...(pricing.length === 0 ? {} : { pricing }),
    },
    'file:/etc/policy.json',
  );
  expect(result).toBe('applied');
  app = buildApiServer(runtime.context);
  return { app, runtime };
}

const MESSAGE = {
  model: PRIMARY_MODEL,
  max_tokens: 1_000,
  messages: [{ role: 'user', content: 'Where is my order?' }],
};

describe('a budget on /v1/messages', () => {
  it('refuses a call that does not fit with 429 in the Anthropic shape, before any provider call', async () => {
    const { app, runtime } = routes([DAILY]);
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(res.statusCode).toBe(429);
    // Twelve hours until midnight UTC.
    expect(res.headers['retry-after']).toBe('43200');
    // It will not fit after the reset either: SDKs are told not to retry it.
    expect(res.headers['x-should-retry']).toBe('false');
    const body = res.json<{ type: string; error: { type: string; message: string } }>();
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toMatch(
      /^budget "daily" \(Day, per Agent\) of agent support-agent is exhausted: spent 0 of 0\.01 USD, this call may cost up to 0\.015\d* USD; this call's worst case is more than the whole budget, so it will not fit after the reset \(2026-11-25T00:00:00\.000Z\) either: lower max_tokens or the input, or raise the budget$/,
    );
    const metrics = await runtime.metrics.registry.metrics();
    expect(metrics).toContain(
      'budget_rejected_total{name="support-agent",budget="daily",reason="exhausted"} 1',
    );
    expect(metrics).toContain('budget_remaining_usd{name="support-agent",budget="daily"} 0.01');
    // What the alerts read beside it: the share, the warning ratio and the period's end.
    expect(metrics).toContain('budget_limit_usd{name="support-agent",budget="daily"} 0.01');
    expect(metrics).toMatch(/budget_warn_ratio\{name="support-agent",budget="daily"\} 0\.\d+\n/);
    expect(metrics).toContain(
      `budget_resets_at_seconds{name="support-agent",budget="daily"} ${String(Date.parse('2026-11-25T00:00:00Z') / 1000)}`,
    );
  });

  it('says busy, retry in a second, while calls in flight hold what blocks a call, and exhausted once spent does', async () => {
    const { baseURL } = await loopbackProvider();
    // Room for one worst case ($0.015321), not two; after one call ($0.000096 spent) none.
    const { app, runtime } = routes([{ ...DAILY, limitMicroUsd: 15_400 }], [PRICE], baseURL);
    const [first, second] = await Promise.all([
      app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE }),
      app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE }),
    ]);
    const refused = [first, second].filter((r) => r.statusCode === 429);
    expect(refused).toHaveLength(1);
    // Nothing is spent: what blocks it is what the other call holds, so it is busy, not
    // exhausted, and a retry in a second may fit (issue 50: it said exhausted, retry in 12 h).
    expect(refused[0]?.json<{ error: { message: string } }>().error.message).toMatch(
      /is busy: spent 0 of 0\.0154 USD, 0\.015\d* USD held by calls in flight, .*; it fits once calls in flight settle, retry shortly$/,
    );
    expect(refused[0]?.headers['retry-after']).toBe('1');
    // The other call's worst case may be released in time: the SDK's own retry is welcome.
    expect(refused[0]?.headers['x-should-retry']).toBeUndefined();
    await budgetsSettled();
    // Now only the reset, twelve hours off, makes room: a retry would be refused the same way.
    const after = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(after.statusCode).toBe(429);
    expect(after.json<{ error: { message: string } }>().error.message).not.toMatch(
      /held by calls in flight|will not fit after the reset/,
    );
    expect(after.headers['x-should-retry']).toBe('false');
    const metrics = await runtime.metrics.registry.metrics();
    expect(metrics).toContain(
      'budget_rejected_total{name="support-agent",budget="daily",reason="busy"} 1',
    );
    expect(metrics).toContain(
      'budget_rejected_total{name="support-agent",budget="daily",reason="exhausted"} 1',
    );
  });

  it('exports a budget in tokens alone with its limit, for the alerts, and no dollar series', async () => {
    const tokensOnly: BudgetSettings = {
      name: 'daily',
      period: 'Day',
      limitTokens: 500,
      per: 'Agent',
      onExhausted: 'Refuse',
      warnAtPercent: 80,
      waitForHeldMs: 0,
    };
    const { app, runtime } = routes([tokensOnly], []);
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(res.statusCode).toBe(429);
    // The call's worst case in tokens is named, and that it cannot fit in any period.
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(
      /: spent 0 of 500 tokens, this call may use up to 1\d{3} tokens; this call's worst case is more than the whole budget/,
    );
    const metrics = await runtime.metrics.registry.metrics();
    expect(metrics).toContain(
      'budget_rejected_total{name="support-agent",budget="daily",reason="exhausted"} 1',
    );
    expect(metrics).toContain('budget_remaining_tokens{name="support-agent",budget="daily"} 500');
    expect(metrics).toContain('budget_limit_tokens{name="support-agent",budget="daily"} 500');
    expect(metrics).toMatch(/budget_warn_ratio\{name="support-agent",budget="daily"\} 0\.8\n/);
    expect(metrics).not.toMatch(/budget_(remaining|limit)_usd\{/);
  });

  it('refuses a model without a price under a dollar budget, naming the model and the field', async () => {
    const { app } = routes([DAILY], []);
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { type: string; message: string } }>();
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toContain(`model ${PRIMARY_MODEL} has no price`);
    expect(body.error.message).toContain('spec.pricing[].model');
  });

  it('refuses under Fallback when no fallback model fits (the fallback has no price)', async () => {
    const { app } = routes([{ ...DAILY, onExhausted: 'Fallback' }]);
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(res.statusCode).toBe(429);
    expect(res.headers['x-breakwater-budget']).toBeUndefined();
    expect(res.json<{ error: { message: string } }>().error.message).toContain('budget "daily"');
  });

  it('serves the cheaper fallback that fits under Fallback, and says so in x-breakwater-budget', async () => {
    const { baseURL, models } = await loopbackProvider();
    // $0.10 and $0.50 per million: a worst case of about $0.0005, where the primary's is $0.015.
    const cheap = {
      ...PRICE,
      model: FALLBACK_MODEL,
      inputMicroUsdPerMTok: 100_000,
      outputMicroUsdPerMTok: 500_000,
    };
    const { app, runtime } = routes(
      [{ ...DAILY, onExhausted: 'Fallback' }],
      [PRICE, cheap],
      baseURL,
    );
    const res = await app.inject({ method: 'POST', url: '/v1/messages', payload: MESSAGE });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-breakwater-budget']).toBe('fallback');
    expect(models).toEqual([FALLBACK_MODEL]);
    await budgetsSettled();
    const metrics = await runtime.metrics.registry.metrics();
    // 12 × 100,000 + 4 × 500,000 picodollars.
    expect(metrics).toContain(
      `budget_spend_usd_total{name="support-agent",model="${FALLBACK_MODEL}",backend="default"} 0.0000032`,
    );
  });
});

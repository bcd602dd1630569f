/**
 * Budgets through the public paths only: a RateLimitPolicy with `spec.budgets` and an
 * AgentDeployment with `spec.pricing`, as YAML a user would apply, run by a real runtime
 * process on `--manifests` and on the policy file the same manifests resolve to; the real
 * Anthropic SDK against the simulator, plain and streamed. Each replica holds the budget
 * alone here (one replica, no store).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';

const PROVIDER_KEY = 'sk-ant-budget-test';
/**
 * A fifth of a cent: the simulator's short answers cost about $0.00007 each at these prices,
 * and a call's worst case (its input, and 64 output tokens at $15 per million) about $0.0013,
 * so about ten calls fit before the next worst case no longer does.
 */
const DAILY_USD = '0.002';

let sim: SimulatorHandle;
let dir: string;
let runtime: RuntimeHandle | undefined;

function manifests(onExhausted: 'Refuse' | 'Shadow'): string {
  const folder = mkdtempSync(join(tmpdir(), 'bw-budgets-'));
  const objects = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'provider-key' },
      stringData: { 'api-key': PROVIDER_KEY },
    },
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'RateLimitPolicy',
      metadata: { name: 'spend' },
      spec: {
        timeZone: 'Europe/Berlin',
        budgets: [{ name: 'daily', period: 'Day', usd: DAILY_USD, onExhausted }],
      },
    },
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: { name: 'spender' },
      spec: {
        model: { name: PRIMARY_MODEL, maxTokens: 64 },
        provider: {
          baseURL: sim.url,
          apiKeySecretRef: { name: 'provider-key', key: 'api-key' },
        },
        rateLimitPolicyRef: { name: 'spend' },
        pricing: [
          {
            model: PRIMARY_MODEL,
            inputPerMTok: '3',
            outputPerMTok: '15',
            cacheWrite5mPerMTok: '3.75',
            cacheWrite1hPerMTok: '6',
            cacheReadPerMTok: '0.3',
          },
        ],
        replicas: 1,
      },
    },
  ];
  writeFileSync(join(folder, 'agent.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  return folder;
}

const client = (rt: RuntimeHandle) =>
  new Anthropic({ baseURL: rt.url, apiKey: 'unused', maxRetries: 0 });

const request = {
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

/** Calls until one is refused (or `limit` calls); streams every other call. */
async function spendUntilRefused(rt: RuntimeHandle, limit: number) {
  let served = 0;
  for (let i = 0; i < limit; i++) {
    try {
      if (i % 2 === 0) await client(rt).messages.create(request);
      else await client(rt).messages.stream(request).finalMessage();
      served++;
    } catch (err) {
      return { served, refusal: err };
    }
  }
  return { served, refusal: undefined };
}

/** The runtime's spend counter in dollars, summed over its labels. */
function spentUsd(metrics: string): number {
  return metrics
    .split('\n')
    .filter((line) => /^budget_spend_usd_total\{/.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 21, apiKey: PROVIDER_KEY });
});

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  await sim.stop();
});

describe.each([
  ['--manifests', (folder: string) => ['--manifests', folder, '--agent', 'spender']],
  ['--manifests FILE', (folder: string) => ['--manifests', join(folder, 'agent.yaml')]],
])('a daily dollar budget on %s', (_mode, args) => {
  it('serves calls while their worst case fits, then refuses with 429 naming the budget', async () => {
    dir = manifests('Refuse');
    runtime = await startRuntime(args(dir));
    const { served, refusal } = await spendUntilRefused(runtime, 100);

    expect(served).toBeGreaterThan(1);
    expect(refusal).toBeInstanceOf(Anthropic.RateLimitError);
    const error = refusal as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.status).toBe(429);
    expect(error.message).toMatch(/daily/);
    expect(error.message).toMatch(/0\.002/);
    const retryAfter = Number(error.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(25 * 3600);
    // Settled spend never passes the budget, streamed answers counted as plain ones.
    const spent = spentUsd(await runtime.metrics());
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(Number(DAILY_USD));
    expect(await runtime.metrics()).toMatch(
      /budget_rejected_total\{[^}]*budget="daily"[^}]*reason="exhausted"[^}]*\} 1/,
    );
  });
});

describe('a daily dollar budget in Shadow', () => {
  it('counts past the budget and refuses nothing', async () => {
    dir = manifests('Shadow');
    runtime = await startRuntime(['--manifests', dir, '--agent', 'spender']);
    const { served, refusal } = await spendUntilRefused(runtime, 40);
    expect(refusal).toBeUndefined();
    expect(served).toBe(40);
    const metrics = await runtime.metrics();
    expect(spentUsd(metrics)).toBeGreaterThan(Number(DAILY_USD));
    expect(metrics).toMatch(
      /budget_rejected_total\{[^}]*budget="daily"[^}]*reason="shadow"[^}]*\} [1-9]/,
    );
  });
});

/**
 * A budget with `onExhausted: Fallback` on the bundled agent's `/v1/agent/invoke`, through the
 * public paths only: manifests a user would apply, run by a real runtime process on
 * `--manifests`, against the simulator. The primary model's worst case never fits the budget;
 * the cheaper fallback's does until the spend leaves no room for it, and then the call is
 * refused. The invoke answer says what `/v1/messages` says in its header: plain answers in
 * `x-breakwater-budget` and `budgetFallback`, streams in their head and their `done` event.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';

const PROVIDER_KEY = 'sk-ant-budget-invoke';
/**
 * A tenth of a cent. A turn's worst case is its body's bytes as input tokens plus 64 output
 * tokens: about $0.0013 on the primary at $3/$15 per million, which never fits, and about
 * $0.0004 on the fallback at $1/$5, which fits until some $0.0006 is spent.
 */
const DAILY_USD = '0.001';

let sim: SimulatorHandle;
let dir: string;
let runtime: RuntimeHandle;

function manifests(): string {
  const folder = mkdtempSync(join(tmpdir(), 'bw-budget-invoke-'));
  const price = (model: string, input: string, output: string) => ({
    model,
    inputPerMTok: input,
    outputPerMTok: output,
    cacheWrite5mPerMTok: input,
    cacheWrite1hPerMTok: input,
    cacheReadPerMTok: input,
  });
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
        budgets: [{ name: 'daily', period: 'Day', usd: DAILY_USD, onExhausted: 'Fallback' }],
      },
    },
    {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: { name: 'frugal' },
      spec: {
        model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
        provider: {
          baseURL: sim.url,
          apiKeySecretRef: { name: 'provider-key', key: 'api-key' },
        },
        rateLimitPolicyRef: { name: 'spend' },
        pricing: [price(PRIMARY_MODEL, '3', '15'), price(FALLBACK_MODEL, '1', '5')],
        replicas: 1,
      },
    },
  ];
  writeFileSync(join(folder, 'agent.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  return folder;
}

interface InvokeOutcome {
  readonly status: number;
  readonly header: string | null;
  /** The answer, or the `done` event's data for a stream; the error body when refused. */
  readonly body: { model?: string; budgetFallback?: boolean; error?: { message: string } };
}

async function invoke(stream: boolean): Promise<InvokeOutcome> {
  const response = await fetch(`${runtime.url}/v1/agent/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: 'say hello', stream }),
  });
  const header = response.headers.get('x-breakwater-budget');
  const text = await response.text();
  if (!stream || response.status !== 200)
    return { status: response.status, header, body: JSON.parse(text) as InvokeOutcome['body'] };
  const done = text
    .split('\n\n')
    .find((event) => event.startsWith('event: done\n'))
    ?.split('\n')
    .find((line) => line.startsWith('data: '));
  if (done === undefined) throw new Error(`a stream without its done event: ${text}`);
  return { status: 200, header, body: JSON.parse(done.slice(6)) as InvokeOutcome['body'] };
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 35, apiKey: PROVIDER_KEY });
  dir = manifests();
  runtime = await startRuntime(['--manifests', dir, '--agent', 'frugal']);
});

afterAll(async () => {
  await runtime.stop();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a daily dollar budget with onExhausted: Fallback on /v1/agent/invoke', () => {
  it('serves the cheaper model while its worst case fits, says so, then refuses', async () => {
    const served: InvokeOutcome[] = [];
    let refusal: InvokeOutcome | undefined;
    for (let i = 0; i < 40 && refusal === undefined; i++) {
      const outcome = await invoke(i % 2 === 1);
      if (outcome.status === 200) served.push(outcome);
      else refusal = outcome;
    }

    // Streams as well as plain answers were served, each by the fallback, and each says so.
    expect(served.length).toBeGreaterThanOrEqual(2);
    for (const outcome of served) {
      expect(outcome.body).toMatchObject({ model: FALLBACK_MODEL, budgetFallback: true });
      expect(outcome.header).toBe('fallback');
    }
    expect(refusal?.status).toBe(429);
    expect(refusal?.body.error?.message).toMatch(/budget "daily" \(Day, per Agent\)/);
    const metrics = await runtime.metrics();
    expect(metrics).toMatch(
      new RegExp(`budget_spend_usd_total\\{[^}]*model="${FALLBACK_MODEL}"[^}]*\\} [0-9.e-]+`),
    );
    expect(metrics).not.toMatch(
      new RegExp(`budget_spend_usd_total\\{[^}]*model="${PRIMARY_MODEL}"[^}]*\\} [0-9.e-]*[1-9]`),
    );
  });
});

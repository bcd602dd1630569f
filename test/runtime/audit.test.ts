/**
 * The audit log of a runtime process: one JSON line per model interaction (both routes,
 * served or failed) and per policy and override change, with a fingerprint of the client
 * key and never a key or a prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const PROVIDER_KEY = 'sk-ant-audit-provider-key-never-logged-0123456789';
const CLIENT_KEY = 'bw-audit-client-key-never-logged';
/** A prompt the audit trail must not carry. */
const PROMPT = 'my account number is 99-1234-5678';

interface AuditLine {
  audit: true;
  event: string;
  [field: string]: unknown;
}

let sim: SimulatorHandle;
let rt: StandaloneRuntime;

const auditPolicy = (change: (d: Mutable<PolicyDocument>) => void = () => undefined) =>
  policyDocument(sim.url, (d) => {
    d.audit = { enabled: true };
    d.access = { clientKeysSecret: 'audit-client-keys' };
    change(d);
  });

function isAuditLine(value: unknown): value is AuditLine {
  return typeof value === 'object' && value !== null && 'audit' in value && value.audit === true;
}

function auditLines(): AuditLine[] {
  return rt.runtime.output
    .flatMap((chunk) => chunk.split('\n'))
    .flatMap((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        return isAuditLine(parsed) ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

function waitForAudit(match: (line: AuditLine) => boolean): Promise<AuditLine> {
  return waitFor(
    () => {
      const found = auditLines().find(match);
      if (found === undefined)
        throw new Error(`no such audit line in:\n${rt.runtime.output.join('')}`);
      return found;
    },
    { timeoutMs: 10_000, intervalMs: 20, description: 'the audit line' },
  );
}

const sdk = () => new Anthropic({ baseURL: rt.runtime.url, apiKey: CLIENT_KEY, maxRetries: 0 });

beforeAll(async () => {
  sim = await startSimulator({ seed: 13 });
  rt = await standaloneRuntime(auditPolicy(), {
    ANTHROPIC_API_KEY: PROVIDER_KEY,
    BREAKWATER_CLIENT_KEYS: CLIENT_KEY,
  });
});

afterAll(async () => {
  await rt.stop();
  await sim.stop();
});

describe('the audit log', () => {
  it('records the policy the runtime started with', async () => {
    const status = (await rt.runtime.debug('/debug/policy')) as { hash: string };
    const line = await waitForAudit((l) => l.event === 'policy_change');
    expect(line).toMatchObject({ hash: status.hash, source: `file:${rt.policyFile}` });
    expect(line.previousHash).toBeUndefined();
  });

  it('records a served model interaction with who asked, the model and the tokens', async () => {
    const message = await sdk().messages.create({
      model: PRIMARY_MODEL,
      max_tokens: 32,
      messages: [{ role: 'user', content: PROMPT }],
    });
    const line = await waitForAudit(
      (l) => l.event === 'model_interaction' && l.route === '/v1/messages' && l.status === 200,
    );
    expect(line).toMatchObject({
      model: PRIMARY_MODEL,
      servedBy: PRIMARY_MODEL,
      fallbackUsed: false,
      inputTokens: message.usage.input_tokens,
      outputTokens: message.usage.output_tokens,
    });
    expect(line.client).toMatch(/^key-[0-9a-f]{12}$/);
    expect(typeof line.requestId).toBe('string');
    expect(typeof line.durationMs).toBe('number');
  });

  it('records a failed interaction with the status the caller got', async () => {
    await sim.setFault({ status: 529, count: 1 });
    const error = await sdk()
      .messages.create({
        model: PRIMARY_MODEL,
        max_tokens: 16,
        messages: [{ role: 'user', content: PROMPT }],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 529 });
    await waitForAudit((l) => l.event === 'model_interaction' && l.status === 529);
  });

  it('records an agent invocation with its session', async () => {
    const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ input: PROMPT, sessionId: 'audit-session-1' }),
    });
    expect(response.status).toBe(200);
    const line = await waitForAudit(
      (l) => l.event === 'model_interaction' && l.route === '/v1/agent/invoke',
    );
    expect(line).toMatchObject({ sessionId: 'audit-session-1', status: 200, model: PRIMARY_MODEL });
  });

  it('records a failed agent invocation with its session and the status the caller got', async () => {
    await sim.setFault({ status: 529, count: 1 });
    const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ input: PROMPT, sessionId: 'audit-session-2' }),
    });
    expect(response.status).toBe(529);
    const line = await waitForAudit(
      (l) => l.event === 'model_interaction' && l.sessionId === 'audit-session-2',
    );
    expect(line).toMatchObject({ route: '/v1/agent/invoke', status: 529, fallbackUsed: false });
    expect(line.client).toMatch(/^key-[0-9a-f]{12}$/);
  });

  it('records a policy change and the override it brings, with the hash it replaced', async () => {
    const before = (await rt.runtime.debug('/debug/policy')) as { hash: string };
    rt.writePolicy(
      auditPolicy((d) => {
        d.circuitBreaker.override = { state: 'ForcedOpen', reason: 'provider incident INC-42' };
      }),
    );
    const change = await waitForAudit(
      (l) => l.event === 'policy_change' && l.previousHash === before.hash,
    );
    expect(change.hash).not.toBe(before.hash);
    const override = await waitForAudit((l) => l.event === 'override_change');
    expect(override).toMatchObject({
      state: 'ForcedOpen',
      previousState: 'Auto',
      reason: 'provider incident INC-42',
    });
  });

  it('never carries an API key or a prompt, in the audit lines or anywhere in the output', () => {
    expect(
      auditLines().filter((l) => l.event === 'model_interaction').length,
    ).toBeGreaterThanOrEqual(3);
    const audit = JSON.stringify(auditLines());
    expect(audit).not.toContain(PROMPT);
    const everything = rt.runtime.output.join('\n');
    expect(everything).not.toContain(PROVIDER_KEY);
    expect(everything).not.toContain(CLIENT_KEY);
  });
});

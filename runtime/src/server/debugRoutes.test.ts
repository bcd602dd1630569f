import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { AgentRuntime } from '../agentRuntime.ts';
import { samplePolicyDocument } from '../../../contract/src/policy/policyFixtures.ts';
import { createLogger } from '../telemetry/logger.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { debugDocuments } from './debugRoutes.ts';
import { unlistenedOptions } from '../runtimeFixture.ts';

const PROMPT = 'You are Acme’s support agent. Internal escalation code: ORCHID-7.';
const PROVIDER_KEY = 'sk-ant-provider-key-never-shown';
const CLIENT_KEY = 'client-key-never-shown';
const URL_PASSWORD = 'gateway-password-never-shown';

/** A runtime with a prompt, a provider key, a client key and a URL with credentials in force. */
function runtimeWithSecrets(): AgentRuntime {
  const runtime = new AgentRuntime({
    options: unlistenedOptions(),
    env: { ANTHROPIC_API_KEY: PROVIDER_KEY },
    clock: new ManualClock(0),
    logger: createLogger('silent'),
  });
  const doc = samplePolicyDocument();
  const [backend] = doc.backends;
  if (backend === undefined) throw new Error('the sample policy has no backend');
  const result = runtime.store.offerDocument(
    {
      ...doc,
      systemPrompt: PROMPT,
      backends: [{ ...backend, baseURL: `https://acme:${URL_PASSWORD}@gateway.example/v1` }],
    },
    'file:/etc/policy.json',
  );
  expect(result).toBe('applied');
  runtime.clientKeys.set([CLIENT_KEY]);
  return runtime;
}

describe('the /debug documents', () => {
  it.each([['/debug/policy'], ['/debug/breakers'], ['/debug/ratelimiter'], ['/debug/stats']])(
    '%s shows no system prompt, provider key, client key or URL password',
    (path) => {
      const build = debugDocuments(runtimeWithSecrets().context)[path];
      const text = JSON.stringify(build?.(new URLSearchParams()));
      expect(text).toBeDefined();
      for (const secret of [PROMPT, 'ORCHID-7', PROVIDER_KEY, CLIENT_KEY, URL_PASSWORD]) {
        expect(text).not.toContain(secret);
      }
    },
  );

  it('shows the system prompt as its length and a SHA-256 prefix, and says it is withheld', () => {
    const policy = debugDocuments(runtimeWithSecrets().context)['/debug/policy']?.(
      new URLSearchParams(),
    ) as {
      document: { systemPrompt: unknown; backends: { baseURL: string }[] };
    };
    expect(policy.document.systemPrompt).toEqual({
      withheld: expect.stringContaining('not served'),
      length: PROMPT.length,
      sha256Prefix: createHash('sha256').update(PROMPT).digest('hex').slice(0, 12),
    });
    expect(policy.document.backends[0]?.baseURL).toBe('https://redacted@gateway.example/v1');
  });
});

/**
 * The clients' policies (test/support/clientPolicies.ts) are one policy in either local mode:
 * the document a runtime on the policy file serves on /debug/policy is the one a runtime on the
 * manifests serves, but for the names the manifests give the agent and its policies. Without
 * this, a client that behaved alike in both modes might have met two different policies.
 */
import { describe, expect, it } from '@jest/globals';
import {
  OPEN_ANSWER_MODES,
  startClientRuntime,
  type ClientPolicy,
  type LocalMode,
} from '../support/clientPolicies.ts';
import { startSimulator } from '../support/simulator.ts';

const POLICIES: [string, ClientPolicy][] = [
  ['keyed', { clientKeys: true, failureThreshold: 1_000 }],
  ['limited', { limited: true }],
  ...OPEN_ANSWER_MODES.map((answer): [string, ClientPolicy] => [
    `forced open, openAnswer ${answer}`,
    { forcedOpen: answer },
  ]),
];

interface Served {
  document: Record<string, unknown> & {
    circuitBreaker: Record<string, unknown>;
    rateLimit: Record<string, unknown>;
  };
}

/** The document `mode`'s runtime serves, without the names each mode gives its resources. */
async function served(mode: LocalMode, simUrl: string, policy: ClientPolicy): Promise<unknown> {
  const rt = await startClientRuntime(mode, simUrl, policy);
  try {
    const { document } = (await rt.runtime.debug('/debug/policy')) as Served;
    const { agent: _agent, ...rest } = document;
    const { policyName: _b, policyGeneration: _bg, ...circuitBreaker } = document.circuitBreaker;
    const { policyName: _r, policyGeneration: _rg, ...rateLimit } = document.rateLimit;
    return { ...rest, circuitBreaker, rateLimit };
  } finally {
    await rt.stop();
  }
}

describe('the clients policies in --policy and --manifests mode', () => {
  it.each(POLICIES)('%s resolves to the same document in both', async (_name, policy) => {
    const sim = await startSimulator();
    try {
      const fromFile = await served('policy', sim.url, policy);
      const fromManifests = await served('manifests', sim.url, policy);
      expect(fromManifests).toEqual(fromFile);
    } finally {
      await sim.stop();
    }
  });
});

import { describe, expect, it } from '@jest/globals';
import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import { anthropicClassifier } from '../../provider/anthropic/errorClassification.ts';
import { retiredBreakers, type BreakerTarget } from './breakerRetirement.ts';
import { GuardSet } from './guardSet.ts';
import type { NamedBackend } from './providerGuard.ts';
import { breakerSettingsOf } from './toolGroups.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

function policy(change: (d: Mutable<PolicyDocument>) => void = () => undefined): PolicyDocument {
  const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
  doc.mcpServers = [
    {
      name: 'github',
      url: 'http://github',
      timeoutMs: 1_000,
      maxConcurrent: 2,
      onUnknownOutcome: 'Fail',
    },
    {
      name: 'jira',
      url: 'http://jira',
      timeoutMs: 1_000,
      maxConcurrent: 2,
      onUnknownOutcome: 'Fail',
      circuitBreaker: { ...doc.circuitBreaker, failureThreshold: 2 },
    },
  ];
  change(doc);
  return doc;
}

const tool = (server: string, name: string): BreakerTarget => ({
  kind: 'tool',
  tool: `${server}__${name}`,
  server,
});

describe('MCP tool groups', () => {
  it('gives a server’s tools the server’s breaker policy, else the agent’s', () => {
    const doc = policy();
    expect(breakerSettingsOf(doc, tool('jira', 'search')).failureThreshold).toBe(2);
    expect(breakerSettingsOf(doc, tool('github', 'search'))).toBe(doc.circuitBreaker);
    expect(breakerSettingsOf(doc, { kind: 'tool', tool: 'lookup' })).toBe(doc.circuitBreaker);
  });

  it('retires the tool breakers of a server the policy dropped, and only those', () => {
    const targets: [string, BreakerTarget][] = [
      ['tool:github__search', tool('github', 'search')],
      ['tool:jira__search', tool('jira', 'search')],
    ];
    const next = policy((d) => {
      d.mcpServers = d.mcpServers?.filter((m) => m.name !== 'github');
    });
    expect(retiredBreakers(targets, policy(), next)).toEqual(['tool:github__search']);
  });

  it('holds a server to maxConcurrent calls at once, apart from the other servers', async () => {
    const guard = new GuardSet<NamedBackend>({
      classifier: anthropicClassifier,
      doc: policy(),
      clock: new ManualClock(0),
    });
    let inFlight = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const held = () =>
      new Promise<string>((resolve) => {
        inFlight++;
        most = Math.max(most, inFlight);
        releases.push(() => {
          inFlight--;
          resolve('ok');
        });
      });
    const signal = new AbortController().signal;
    const github = {
      name: 'github',
      url: 'http://github',
      timeoutMs: 60_000,
      maxConcurrent: 2,
      onUnknownOutcome: 'Fail' as const,
    };
    const calls = [1, 2, 3].map(() => guard.callTool('github__a', 60_000, held, signal, github));
    // A third github call waits; a jira call does not wait for github's slots.
    const jira = guard.callTool('jira__a', 60_000, () => Promise.resolve('jira'), signal, {
      name: 'jira',
      url: 'http://jira',
      timeoutMs: 60_000,
      maxConcurrent: 2,
      onUnknownOutcome: 'Fail',
    });
    await expect(jira).resolves.toBe('jira');
    await new Promise((resolve) => setImmediate(resolve));
    expect(inFlight).toBe(2);
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect(Promise.all(calls)).resolves.toEqual(['ok', 'ok', 'ok']);
    expect(most).toBe(2);
  });
});

import { describe, expect, it } from '@jest/globals';
import { inManifestTerms, specPathOf } from './specPaths.ts';

describe('a policy document path in the words of a manifest', () => {
  it.each([
    ['rateLimit.spend.budgets[0].limitMicroUsd', 'RateLimitPolicy', 'spec.budgets[0].usd'],
    ['pricing[1].cacheReadMicroUsdPerMTok', 'AgentDeployment', 'spec.pricing[1].cacheReadPerMTok'],
    ['circuitBreaker.failureThreshold', 'CircuitBreakerPolicy', 'spec.failureThreshold'],
    ['circuitBreaker.openDurationMs', 'CircuitBreakerPolicy', 'spec.openDuration'],
    ['rateLimit.requests.replicaPerSecond', 'RateLimitPolicy', 'spec.requests.perSecond'],
    ['tools[2].timeoutMs', 'AgentDeployment', 'spec.tools[2].timeout'],
    ['durability.retentionMs', 'AgentDeployment', 'spec.durability.retention'],
  ])('%s is %s %s', (documentPath, kind, path) => {
    expect(specPathOf(documentPath)).toEqual({ kind, path });
  });

  it('leaves a path the table does not map, and a list item without its index', () => {
    expect(specPathOf('agent.name')).toBeUndefined();
    expect(specPathOf('pricing[].inputMicroUsdPerMTok')).toBeUndefined();
    expect(specPathOf('circuitBreaker.failureThresholdX')).toBeUndefined();
  });

  it('tells a check error by the field the manifest spells, keeping the document path for its units', () => {
    expect(
      inManifestTerms(
        'pricing[0].cacheReadMicroUsdPerMTok must be an integer from 0 to 999999999999, got nothing',
      ),
    ).toBe(
      'AgentDeployment spec.pricing[0].cacheReadPerMTok (pricing[0].cacheReadMicroUsdPerMTok in the policy document) must be an integer from 0 to 999999999999, got nothing',
    );
    expect(inManifestTerms('policy is not valid JSON')).toBe('policy is not valid JSON');
  });
});

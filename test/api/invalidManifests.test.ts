/**
 * Every invalid value is rejected by the API server at admission — schema or CEL — with a
 * message that names the field. Each row is created for real with kubectl, so the whole
 * admission path runs, and a row that is wrongly accepted fails the test.
 */
import { describe, expect, it } from '@jest/globals';
import { admissionNamespace, expectRefusal } from './admission.ts';
import {
  agent,
  bedrock,
  breakerPolicy,
  invalidManifests as rows,
  rateLimitPolicy,
  someRequests,
  vertex,
} from './invalidManifestRows.ts';

const { create } = admissionNamespace('api-invalid');

describe('the valid starting points', () => {
  it.each([
    ['CircuitBreakerPolicy', breakerPolicy({})],
    ['RateLimitPolicy', rateLimitPolicy(someRequests)],
    ['AgentDeployment', agent({})],
  ])('accepts a minimal %s', async (_, manifest) => {
    const result = await create(manifest, 'minimal');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('accepts an agent with an Anthropic, a Bedrock and a Vertex backend, each by priority', async () => {
    const manifest = agent(
      {
        backends: [
          { name: 'anthropic', baseURL: 'https://api.anthropic.com' },
          bedrock({ priority: 1, credentialsSecretRef: { name: 'aws-keys' } }),
          vertex({ priority: 2, region: 'global', credentialsSecretRef: { name: 'gcp-sa' } }),
        ],
      },
      'three-backends',
    );
    const result = await create(manifest);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('the API server', () => {
  it('is given at least 25 invalid manifests', () => {
    expect(rows.length).toBeGreaterThanOrEqual(25);
  });

  it.each(rows.map((row, index) => ({ ...row, index })))(
    '$name',
    async ({ manifest, field, says, index }) => {
      const result = await create(manifest, `invalid-${String(index)}`);
      expectRefusal(result, { field, says });
    },
  );
});

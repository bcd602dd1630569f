/**
 * MCP servers on the AgentDeployment and loop detection on the CircuitBreakerPolicy, as the
 * real API server admits them: each invalid row is created with kubectl and must be refused
 * naming the field (as invalidManifests.test.ts does for the rest of the API), and a full
 * valid manifest of each is admitted.
 */
import { describe, expect, it } from '@jest/globals';
import { GROUP_VERSION } from '../../contract/src/api/group.ts';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import {
  AGENT_DEPLOYMENT_LIMITS as AGENT,
  CIRCUIT_BREAKER_POLICY_LIMITS as BREAKER,
} from '../../contract/src/api/specLimits.ts';
import {
  admissionNamespace,
  expectRefusal,
  type Manifest,
  type Refusal,
  type Spec,
} from './admission.ts';

const agent = (mcpServers: readonly Spec[]): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'AgentDeployment',
  metadata: {},
  spec: {
    model: { name: FALLBACK_MODEL },
    provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
    mcpServers,
  },
});
const server = (fields: Spec = {}): Spec => ({
  name: 'github',
  url: 'http://github-mcp.tools.svc:8080/mcp',
  ...fields,
});
const breakerPolicy = (spec: Spec): Manifest => ({
  apiVersion: GROUP_VERSION,
  kind: 'CircuitBreakerPolicy',
  metadata: {},
  spec,
});

const maxConcurrent = AGENT['mcpServers[].maxConcurrent'];
const maxRepeats = BREAKER['loopDetection.maxRepeats'];
const maxCycleRepeats = BREAKER['loopDetection.maxCycleRepeats'];

const rows: readonly Refusal[] = [
  {
    name: 'rejects a server name that is not a DNS label',
    manifest: agent([server({ name: 'GitHub' })]),
    field: 'spec.mcpServers[0].name',
    says: 'should match',
  },
  {
    name: 'rejects a server name with the tool separator in it',
    manifest: agent([server({ name: 'git__hub' })]),
    field: 'spec.mcpServers[0].name',
    says: 'should match',
  },
  {
    name: 'rejects a server name longer than its maximum',
    manifest: agent([server({ name: 'g'.repeat(AGENT['mcpServers[].name'].maxLength + 1) })]),
    field: 'spec.mcpServers[0].name',
    says: `may not be more than ${String(AGENT['mcpServers[].name'].maxLength)}`,
  },
  {
    name: 'rejects a url that is not http(s)',
    manifest: agent([server({ url: 'ftp://github-mcp/mcp' })]),
    field: 'spec.mcpServers[0].url',
    says: 'should match',
  },
  {
    name: 'rejects a url with a space in it',
    manifest: agent([server({ url: 'http://github mcp/mcp' })]),
    field: 'spec.mcpServers[0].url',
    says: 'should match',
  },
  {
    name: 'rejects a tool name the allow-list cannot hold',
    manifest: agent([server({ tools: ['search issues'] })]),
    field: 'spec.mcpServers[0].tools[0]',
    says: 'should match',
  },
  {
    name: 'rejects the same tool twice in the allow-list',
    manifest: agent([server({ tools: ['search', 'search'] })]),
    field: 'spec.mcpServers[0].tools[1]',
    says: 'Duplicate value',
  },
  {
    name: 'rejects maxConcurrent below its minimum',
    manifest: agent([server({ maxConcurrent: maxConcurrent.minimum - 1 })]),
    field: 'spec.mcpServers[0].maxConcurrent',
    says: `greater than or equal to ${String(maxConcurrent.minimum)}`,
  },
  {
    name: 'rejects maxConcurrent above its maximum',
    manifest: agent([server({ maxConcurrent: maxConcurrent.maximum + 1 })]),
    field: 'spec.mcpServers[0].maxConcurrent',
    says: `less than or equal to ${String(maxConcurrent.maximum)}`,
  },
  {
    name: 'rejects a tool-call timeout of 0s',
    manifest: agent([server({ timeout: '0s' })]),
    field: 'spec.mcpServers[0].timeout',
    says: 'must be between 1ms and 10m',
  },
  {
    name: 'rejects two servers with the same name',
    manifest: agent([server(), server({ url: 'https://other.example/mcp' })]),
    field: 'spec.mcpServers[1]',
    says: 'Duplicate value',
  },
  {
    name: 'rejects more servers than its maximum',
    manifest: agent(
      Array.from({ length: AGENT.mcpServers.maxItems + 1 }, (_, i) =>
        server({ name: `s${String(i)}` }),
      ),
    ),
    field: 'spec.mcpServers',
    says: `must have at most ${String(AGENT.mcpServers.maxItems)} items`,
  },
  {
    name: 'rejects a headersSecretRef without a name',
    manifest: agent([server({ headersSecretRef: {} })]),
    field: 'spec.mcpServers[0].headersSecretRef.name',
    says: 'Required value',
  },
  {
    name: 'rejects loopDetection.maxRepeats below its minimum',
    manifest: breakerPolicy({ loopDetection: { maxRepeats: maxRepeats.minimum - 1 } }),
    field: 'spec.loopDetection.maxRepeats',
    says: `greater than or equal to ${String(maxRepeats.minimum)}`,
  },
  {
    name: 'rejects loopDetection.maxRepeats above its maximum',
    manifest: breakerPolicy({ loopDetection: { maxRepeats: maxRepeats.maximum + 1 } }),
    field: 'spec.loopDetection.maxRepeats',
    says: `less than or equal to ${String(maxRepeats.maximum)}`,
  },
  {
    name: 'rejects loopDetection.maxCycleRepeats below its minimum',
    manifest: breakerPolicy({ loopDetection: { maxCycleRepeats: maxCycleRepeats.minimum - 1 } }),
    field: 'spec.loopDetection.maxCycleRepeats',
    says: `greater than or equal to ${String(maxCycleRepeats.minimum)}`,
  },
  {
    name: 'rejects loopDetection.maxCycleRepeats above its maximum',
    manifest: breakerPolicy({ loopDetection: { maxCycleRepeats: maxCycleRepeats.maximum + 1 } }),
    field: 'spec.loopDetection.maxCycleRepeats',
    says: `less than or equal to ${String(maxCycleRepeats.maximum)}`,
  },
];

const { create, stored } = admissionNamespace('api-mcp');

describe('MCP servers and loop detection', () => {
  it('admits an agent with every MCP server field set, and one with the defaults', async () => {
    const result = await create(
      agent([
        server({
          headersSecretRef: { name: 'github-token' },
          tools: ['search_issues', 'get.file', 'list-repos'],
          timeout: '45s',
          maxConcurrent: 4,
          circuitBreakerPolicyRef: { name: 'tools' },
        }),
        server({ name: 'search', url: 'https://search.example/mcp' }),
      ]),
      'mcp-agent',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { spec } = await stored<{ spec: { mcpServers: Spec[] } }>('agd/mcp-agent');
    // The schema's defaults are filled in where the server leaves them unset.
    expect(spec.mcpServers[1]).toMatchObject({
      timeout: AGENT['mcpServers[].timeout'].default,
      maxConcurrent: maxConcurrent.default,
    });
  });

  it('admits a CircuitBreakerPolicy with loopDetection at its bounds', async () => {
    const result = await create(
      breakerPolicy({
        loopDetection: { maxRepeats: maxRepeats.minimum, maxCycleRepeats: maxCycleRepeats.maximum },
        mode: 'Shadow',
      }),
      'loops',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it.each(rows.map((row, index) => ({ ...row, index })))(
    '$name',
    async ({ manifest, field, says, index }) => {
      const result = await create(manifest, `invalid-${String(index)}`);
      expectRefusal(result, { field, says });
    },
  );
});

import { describe, expect, it } from '@jest/globals';
import { canonicalJson, policyHash } from './policyDocument.ts';
import { samplePolicyDocument } from './policyFixtures.ts';
import { checkPolicyDocument, parsePolicyDocument } from './policyValidation.ts';

type Mutable = Record<string, unknown>;

/** The sample with one field changed, addressed by a dotted path. */
function withField(path: string, value: unknown): unknown {
  const doc = structuredClone(samplePolicyDocument()) as unknown as Mutable;
  const parts = path.split('.');
  let node: Mutable = doc;
  for (const part of parts.slice(0, -1)) node = node[part] as Mutable;
  const last = parts.at(-1) ?? '';
  if (value === undefined) Reflect.deleteProperty(node, last);
  else node[last] = value;
  return doc;
}

describe('checkPolicyDocument', () => {
  it('accepts the sample document and hashes it', () => {
    const result = checkPolicyDocument(samplePolicyDocument());
    expect(result).toMatchObject({ ok: true, hash: policyHash(samplePolicyDocument()) });
  });

  it.each([
    ['a document of another version', 'version', 1, /^version must be 2/],
    ['a missing model name', 'model.name', undefined, /^model\.name must be a non-empty string/],
    ['max tokens of zero', 'model.maxTokens', 0, /^model\.maxTokens must be an integer from 1/],
    [
      'a temperature above one',
      'model.temperature',
      1.5,
      /^model\.temperature must be a number from 0 to 1/,
    ],
    ['no backend at all', 'backends', [], /^backends must name at least one backend/],
    [
      'a failure threshold of zero',
      'circuitBreaker.failureThreshold',
      0,
      /^circuitBreaker\.failureThreshold/,
    ],
    // The guard once checked these itself, with bounds of its own; the schema's hold now.
    [
      "a failure threshold above the schema's 1000",
      'circuitBreaker.failureThreshold',
      1001,
      /^circuitBreaker\.failureThreshold must be an integer from 1 to 1000/,
    ],
    [
      'a negative open duration',
      'circuitBreaker.openDurationMs',
      -1,
      /^circuitBreaker\.openDurationMs must be an integer from 1000 to 86400000/,
    ],
    // The schema's cross-field rules, which a manifest run never met at admission.
    [
      'more half-open probes than successes needed to close',
      'circuitBreaker.halfOpenMaxCalls',
      5,
      /^circuitBreaker\.successThreshold must be at least halfOpenMaxCalls/,
    ],
    [
      'a minimum of calls a Count window can never hold',
      'circuitBreaker.failureRate',
      { thresholdPercent: 50, minimumCalls: 20, window: { type: 'Count', size: 10 } },
      /^circuitBreaker\.failureRate\.minimumCalls must not exceed window\.size for a Count window/,
    ],
    [
      'an override without a reason',
      'circuitBreaker.override',
      { state: 'ForcedOpen' },
      /^circuitBreaker\.override\.reason is required when state is ForcedOpen or ForcedClosed/,
    ],
    [
      'a failure rate over 100%',
      'circuitBreaker.failureRate',
      { thresholdPercent: 150, minimumCalls: 10, window: { type: 'Count', size: 100 } },
      /^circuitBreaker\.failureRate\.thresholdPercent must be an integer from 1 to 100/,
    ],
    [
      "a count window above the schema's 10000 calls",
      'circuitBreaker.failureRate',
      { thresholdPercent: 50, minimumCalls: 10, window: { type: 'Count', size: 10_001 } },
      /^circuitBreaker\.failureRate\.window\.size must be an integer from 1 to 10000/,
    ],
    [
      "a time window above the schema's 3600 s",
      'circuitBreaker.failureRate',
      { thresholdPercent: 50, minimumCalls: 10, window: { type: 'Time', sizeMs: 3_600_001 } },
      /^circuitBreaker\.failureRate\.window\.sizeMs must be an integer from 1000 to 3600000/,
    ],
    [
      'an unknown window type',
      'circuitBreaker.failureRate',
      { thresholdPercent: 50, minimumCalls: 10, window: { type: 'Sliding', size: 10 } },
      /^circuitBreaker\.failureRate\.window\.type must be one of Count, Time/,
    ],
    [
      'a max open duration shorter than the open duration',
      'circuitBreaker.maxOpenDurationMs',
      1000,
      /^circuitBreaker\.maxOpenDurationMs must be an integer of at least 60000, got 1000$/,
    ],
    [
      'an unknown failure class',
      'circuitBreaker.failOn',
      ['Teapot'],
      /^circuitBreaker\.failOn\[0\] must be one of/,
    ],
    [
      'an unknown override state',
      'circuitBreaker.override.state',
      'Sideways',
      /^circuitBreaker\.override\.state/,
    ],
    [
      'a negative request rate',
      'rateLimit.requests.replicaPerSecond',
      -1,
      /^rateLimit\.requests\.replicaPerSecond/,
    ],
    ['a share of zero replicas', 'rateLimit.shareOf', 0, /^rateLimit\.shareOf/],
    [
      'an unknown limit behaviour',
      'rateLimit.onLimit',
      'Explode',
      /^rateLimit\.onLimit must be one of Reject, Wait/,
    ],
    [
      'a retry count above ten',
      'retry.maxAttempts',
      11,
      /^retry\.maxAttempts must be an integer from 1 to 10/,
    ],
    [
      'a tool without a URL',
      'tools',
      [{ name: 't', description: '', inputSchema: {}, url: 'nope', timeoutMs: 5 }],
      /^tools\[0\]\.url must be an absolute URL/,
    ],
    [
      // Found by the mutated-policy property test: the runtime died on it with "Invalid URL".
      'a backend URL of a scheme no HTTP client speaks',
      'backends',
      [{ name: 'default', baseURL: 'ht2p://192.0.2.2:1', apiKeyEnv: 'K', weight: 1 }],
      /^backends\[0\]\.baseURL must be an absolute URL matching \^https\?:\/\//,
    ],
  ])('rejects %s, naming the field', (_name, path, value, message) => {
    const result = checkPolicyDocument(withField(path, value));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it("refuses an HTTP tool named as an MCP server's tool would be, a repeated allowed tool, and a password in a URL", () => {
    const doc = structuredClone(samplePolicyDocument()) as unknown as Mutable;
    doc.mcpServers = [
      {
        name: 'docs',
        url: 'http://docs/mcp',
        timeoutMs: 1000,
        maxConcurrent: 2,
        onUnknownOutcome: 'Fail',
      },
    ];
    const tool = { description: 'd', inputSchema: { type: 'object' }, timeoutMs: 1000 };
    doc.tools = [{ ...tool, name: 'docs__echo', url: 'http://tool/x' }];
    expect(checkPolicyDocument(doc)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^tools\[0\]\.name must not start with "docs__"/) as unknown,
    });
    doc.tools = [];
    doc.mcpServers = [
      {
        name: 'docs',
        url: 'http://docs/mcp',
        tools: ['echo', 'echo'],
        timeoutMs: 1000,
        maxConcurrent: 2,
        onUnknownOutcome: 'Fail',
      },
    ];
    expect(checkPolicyDocument(doc)).toMatchObject({
      ok: false,
      error: 'mcpServers[0].tools[1] must not repeat a tool, got "echo"',
    });
    doc.mcpServers = [];
    doc.tools = [{ ...tool, name: 'docs_echo', url: 'http://user:pw-secret@tool/x' }];
    const refused = checkPolicyDocument(doc);
    expect(refused).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^tools\[0\]\.url .*no user:password/) as unknown,
    });
    expect(JSON.stringify(refused)).not.toContain('pw-secret');
  });

  const withStore = (redis: unknown): unknown =>
    withField('rateLimit.store', { redis, waitBudgetMs: 5, keyPrefix: 'breakwater:{default/rl}' });
  const sentinel = { masterName: 'breakwater', addresses: ['sentinel:26379'] };

  it.each([
    ['at an address', { address: 'redis:6379' }],
    [
      'through sentinels, with their password',
      { sentinel: { ...sentinel, passwordSecretRef: { name: 's', key: 'p' } } },
    ],
    ['of a cluster', { cluster: { addresses: ['node-0:6379', 'node-1:6379'] } }],
    ['whose writes a replica acknowledges', { address: 'redis:6379', acknowledge: 'Replicas' }],
    [
      "of a cluster whose writes a replica of each slot's primary acknowledges",
      { cluster: { addresses: ['node-0:6379'] }, acknowledge: 'Replicas' },
    ],
  ])('accepts a store %s', (_, redis) => {
    expect(checkPolicyDocument(withStore(redis))).toMatchObject({ ok: true });
  });

  it.each([
    [
      'both an address and sentinels',
      { address: 'redis:6379', sentinel },
      /^rateLimit\.store\.redis must set exactly one of address, sentinel and cluster/,
    ],
    [
      'both sentinels and a cluster',
      { sentinel, cluster: { addresses: ['node:6379'] } },
      /^rateLimit\.store\.redis must set exactly one of address, sentinel and cluster/,
    ],
    [
      'neither',
      {},
      /^rateLimit\.store\.redis must set exactly one of address, sentinel and cluster/,
    ],
    [
      'no cluster node',
      { cluster: { addresses: [] } },
      /^rateLimit\.store\.redis\.cluster\.addresses must be a list of at least 1 and at most 16 items/,
    ],
    [
      'a cluster node without a port',
      { cluster: { addresses: ['node'] } },
      /^rateLimit\.store\.redis\.cluster\.addresses\[0\]/,
    ],
    [
      'no sentinel address',
      { sentinel: { ...sentinel, addresses: [] } },
      /^rateLimit\.store\.redis\.sentinel\.addresses must be a list of at least 1 and at most 9 items/,
    ],
    [
      'a sentinel address without a port',
      { sentinel: { ...sentinel, addresses: ['sentinel'] } },
      /^rateLimit\.store\.redis\.sentinel\.addresses\[0\]/,
    ],
    [
      'no master name',
      { sentinel: { addresses: ['sentinel:26379'] } },
      /^rateLimit\.store\.redis\.sentinel\.masterName/,
    ],
    [
      'an acknowledgement it does not know',
      { address: 'redis:6379', acknowledge: 'Quorum' },
      /^rateLimit\.store\.redis\.acknowledge/,
    ],
  ])('refuses a store with %s', (_, redis, error) => {
    const result = checkPolicyDocument(withStore(redis));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(error);
  });

  it('reports text that is not JSON instead of throwing', () => {
    const result = parsePolicyDocument('{"version": 1,');
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.error).toMatch(/^policy is not valid JSON/);
  });
});

describe('policyHash', () => {
  it('does not depend on the order of keys', () => {
    const doc = samplePolicyDocument();
    const shuffled = Object.fromEntries(Object.entries(doc).reverse()) as unknown as typeof doc;
    expect(canonicalJson(shuffled)).toBe(canonicalJson(doc));
    expect(policyHash(shuffled)).toBe(policyHash(doc));
  });

  it('changes when any setting changes', () => {
    const edited = withField('rateLimit.requests.replicaPerSecond', 21) as ReturnType<
      typeof samplePolicyDocument
    >;
    expect(policyHash(edited)).not.toBe(policyHash(samplePolicyDocument()));
  });
});

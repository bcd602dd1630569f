/**
 * One way in, through the real parts: the corpus that uses every reference the API has is
 * applied to the suites' kind cluster; the real operator resolves it into ConfigMap `<agent>-policy`;
 * the same objects, read back from the API server, are given to a real runtime process as a
 * manifests folder and as one manifest file. All three hold the same document (the same
 * policy hash, a SHA-256 of its canonical JSON). And the reference that --manifests used to
 * drop: an MCP server's own CircuitBreakerPolicy (three failures) opens its tool's breaker
 * after three calls, as the MCP server itself counts them.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { policyHash, type PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import {
  CORPUS_AGENT,
  corpusObjects,
  everyReferenceCorpus,
} from '../../contract/src/policy/referenceFixtures.ts';
import { appliedPolicyDocument, condition, getAgent } from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';

jest.setTimeout(180_000);

const CLIENT_KEY = 'bw-corpus-client-key';

let scenario: Scenario;
let mcp: McpTestServer;
let dir: string;
const runtimes: RuntimeHandle[] = [];

interface PolicyStatus {
  readonly hash?: string;
  readonly lastError?: { readonly error: string };
}

/** The corpus's objects as the API server holds them: defaults applied, generations set. */
async function objectsFromApiServer(namespace: string): Promise<object[]> {
  const names = new Set(
    corpusObjects(everyReferenceCorpus({ providerURL: '', mcpURL: '' })).map(
      (o) =>
        `${(o as { kind: string }).kind}/${(o as { metadata: { name: string } }).metadata.name}`,
    ),
  );
  const { stdout } = await kubectl([
    'get',
    'agentdeployments,circuitbreakerpolicies,ratelimitpolicies,configmaps,secrets',
    '-n',
    namespace,
    '-o',
    'json',
  ]);
  const list = JSON.parse(stdout) as { items: StoredObject[] };
  return list.items
    .filter((o) => names.has(`${o.kind}/${o.metadata.name}`))
    .map(({ apiVersion, kind, metadata, spec, data }) => ({
      apiVersion,
      kind,
      metadata: {
        name: metadata.name,
        namespace: metadata.namespace,
        ...(metadata.generation === undefined ? {} : { generation: metadata.generation }),
      },
      ...(spec === undefined ? {} : { spec }),
      ...(data === undefined ? {} : { data }),
    }));
}

interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number };
  spec?: unknown;
  data?: Record<string, string>;
}

async function runtimeOn(path: string): Promise<RuntimeHandle> {
  const runtime = await startRuntime(['--manifests', path, '--agent', CORPUS_AGENT]);
  runtimes.push(runtime);
  return runtime;
}

async function policyOf(runtime: RuntimeHandle): Promise<PolicyStatus> {
  return eventually(
    async () => {
      const status = (await runtime.debug('/debug/policy')) as PolicyStatus;
      if (status.lastError !== undefined) throw new Error(status.lastError.error);
      return status.hash !== undefined && status;
    },
    { timeoutMs: 20_000, description: 'the runtime to take the manifests’ policy' },
  );
}

beforeAll(async () => {
  mcp = await startMcpServer();
  scenario = await startScenario({ prefix: 'op-every-source', seed: 41 }, (sim) =>
    corpusObjects(everyReferenceCorpus({ providerURL: sim.url, mcpURL: mcp.url })),
  );
  dir = mkdtempSync(join(tmpdir(), 'bw-every-source-'));
}, 150_000);

afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.stop()));
  await scenario.end();
  await mcp.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the corpus that uses every reference', () => {
  let operatorDoc: PolicyDocument;

  it('resolves in the operator with every reference found', async () => {
    // The objects arrive together; until the caches hold them all, the agent runs on defaults
    // for what is missing and PoliciesResolved says so.
    operatorDoc = await eventually(
      async () => {
        const agent = await getAgent(scenario.ns.name, CORPUS_AGENT);
        if (condition(agent, 'PoliciesResolved')?.status !== 'True') return undefined;
        const doc = await appliedPolicyDocument(scenario.ns.name, CORPUS_AGENT);
        return doc?.agent.generation === agent?.metadata.generation && doc;
      },
      {
        timeoutMs: 60_000,
        description: 'the operator to write the corpus agent’s policy document',
      },
    );
    expect(operatorDoc.mcpServers?.[0]?.circuitBreaker?.failureThreshold).toBe(3);
    expect(operatorDoc.circuitBreaker.failureThreshold).toBe(4);
    expect(operatorDoc.systemPrompt).toBe('You answer from the corpus.');
  });

  it('resolves to the same document from a manifests folder and from one manifest file', async () => {
    const objects = await objectsFromApiServer(scenario.ns.name);
    expect(objects).toHaveLength(
      corpusObjects(everyReferenceCorpus({ providerURL: '', mcpURL: '' })).length,
    );
    const folder = join(dir, 'folder');
    const file = join(dir, 'one', 'corpus.yaml');
    mkdirSync(folder);
    mkdirSync(join(dir, 'one'));
    objects.forEach((o, i) => {
      writeFileSync(join(folder, `${String(i).padStart(2, '0')}.yaml`), stringify(o));
    });
    writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));

    const expected = policyHash(operatorDoc);
    for (const path of [folder, file]) {
      const status = await policyOf(await runtimeOn(path));
      expect({ path, hash: status.hash }).toEqual({ path, hash: expected });
    }
  });

  it('opens an MCP tool’s breaker on its server’s own policy (three failures) under --manifests', async () => {
    const runtime = runtimes[0];
    if (runtime === undefined) throw new Error('the manifests runtime did not start');
    const client = await eventually(
      async () => {
        const c = new Client({ name: 'team-agent', version: '1.0.0' });
        await c.connect(
          new StreamableHTTPClientTransport(new URL(`${runtime.url}/mcp/notes`), {
            requestInit: { headers: { 'x-api-key': CLIENT_KEY } },
          }),
        );
        return c;
      },
      { timeoutMs: 20_000, description: 'the runtime to connect to the MCP server' },
    );
    mcp.calls.clear();
    mcp.failures = 100;
    try {
      const results = [];
      for (let i = 0; i < 8; i++)
        results.push(await client.callTool({ name: 'flaky', arguments: {} }));
      expect(results.every((r) => r.isError === true)).toBe(true);
      expect(mcp.calls.get('flaky')).toBe(3);
    } finally {
      mcp.failures = 0;
      await client.close();
    }
  });
});

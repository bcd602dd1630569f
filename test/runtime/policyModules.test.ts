/**
 * A feature's packages load when a policy first uses it, and a policy edit that adds one is
 * served at once (issue 53): a real runtime process on a policy file starts without the AWS
 * credential chain, the store's client or the MCP SDK, and a later edit that adds a Bedrock
 * backend on the default chain, or a store, is applied once they loaded and serves. The
 * Anthropic SDK's client, which only the bundled agent's own turns use, loads with the first
 * of them; a pass-through call needs only its error classes. Nor does an idle runtime, or one
 * that only relays, load Node's internal undici (the global fetch classes). Which
 * packages the process holds is read through the memory bench's probe (bench/memory/
 * memoryProbe.js, preloaded by NODE_OPTIONS).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyHash, type PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import { ratePolicy } from '../support/rateLimitStoreFixture.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  sample,
  standaloneRuntime,
  type Mutable,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const PROBE = fileURLToPath(new URL('../../bench/memory/memoryProbe.js', import.meta.url));
const AWS = { accessKeyId: 'AKIDBREAKWATERLAZY1', secretAccessKey: 'lazy-secret-key' };
/** Node's bundled undici: what the global fetch, Request, Response and Headers load. */
const NODE_UNDICI = 'internal/deps/undici/undici';
const OPTIONAL = ['@aws-sdk/credential-providers', '@redis/client', '@modelcontextprotocol/sdk'];

let sim: SimulatorHandle;
let redis: RedisHandle;
let dir: string;
let running: StandaloneRuntime | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bw-policy-modules-'));
  sim = await startSimulator({
    seed: 53,
    args: ['--aws-credentials', `${AWS.accessKeyId}:${AWS.secretAccessKey}`],
  });
  redis = await startRedis();
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

afterAll(async () => {
  await sim.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A runtime on `doc` with the probe preloaded and AWS credentials in its environment. */
async function start(doc: PolicyDocument): Promise<StandaloneRuntime> {
  running = await standaloneRuntime(doc, {
    NODE_OPTIONS: `--import ${PROBE}`,
    BW_MEMORY_PROBE_FILE: join(dir, 'probe.json'),
    AWS_ACCESS_KEY_ID: AWS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
  });
  return running;
}

/** The npm packages the process has loaded, as its probe reports them. */
async function loadedPackages(rt: StandaloneRuntime): Promise<string[]> {
  return Object.keys(await probedPackages(rt));
}

/** The probe's report: each package loaded, with the URLs the runtime's own code asked for. */
async function probedPackages(rt: StandaloneRuntime): Promise<Record<string, string[]>> {
  return (await probe(rt)).packages;
}

/** Node's own modules the process has loaded. */
async function loadedInternals(rt: StandaloneRuntime): Promise<string[]> {
  return (await probe(rt)).internals;
}

async function probe(
  rt: StandaloneRuntime,
): Promise<{ packages: Record<string, string[]>; internals: string[]; required: string[] }> {
  const file = join(dir, 'probe.json');
  rmSync(file, { force: true });
  rt.runtime.child.kill('SIGUSR2');
  await waitFor(() => existsSync(file), {
    timeoutMs: 5_000,
    intervalMs: 20,
    description: "the probe's report",
  });
  return JSON.parse(readFileSync(file, 'utf8')) as {
    packages: Record<string, string[]>;
    internals: string[];
    required: string[];
  };
}

/** One call through the runtime; the backend that answered it. */
async function call(rt: StandaloneRuntime): Promise<string | null> {
  const response = await fetch(`${rt.runtime.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: PRIMARY_MODEL,
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hello' }],
    }),
  });
  await response.text();
  if (response.status !== 200) throw new Error(`answered ${String(response.status)}`);
  return response.headers.get('x-breakwater-backend');
}

/** Milliseconds from `since` until the runtime has `doc` in force. */
async function appliedAfter(
  rt: StandaloneRuntime,
  doc: PolicyDocument,
  since: number,
): Promise<number> {
  const hash = policyHash(doc);
  await waitFor(
    async () => ((await rt.runtime.debug('/debug/policy')) as { hash?: string }).hash === hash,
    {
      timeoutMs: 10_000,
      intervalMs: 5,
      description: `policy ${hash} in force`,
    },
  );
  return performance.now() - since;
}

const onBedrock = (d: Mutable<PolicyDocument>) => {
  d.backends = [
    {
      name: 'bedrock',
      type: 'Bedrock',
      region: 'us-east-1',
      baseURL: sim.url,
      weight: 1,
      models: { [PRIMARY_MODEL]: `us.anthropic.${PRIMARY_MODEL}-v1:0` },
    },
  ];
};

describe('a feature paid for when a policy uses it', () => {
  it('starts without the optional packages, and serves from Bedrock on the default chain once an edit adds it', async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await loadedPackages(rt)).toEqual(
      expect.not.arrayContaining([expect.stringMatching(OPTIONAL.join('|'))]),
    );
    expect(await call(rt)).toBe('default');

    const edited = performance.now();
    rt.writePolicy(policyDocument(sim.url, onBedrock));
    const backend = await waitFor(
      async () => ((await call(rt)) === 'bedrock' ? 'bedrock' : undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 10,
        description: 'a call served by the Bedrock backend the edit added',
      },
    );
    process.stdout.write(
      `policy edit adding Bedrock → first call served by it: ${(performance.now() - edited).toFixed(0)} ms\n`,
    );
    expect(backend).toBe('bedrock');
    expect(await loadedPackages(rt)).toContain('@aws-sdk/credential-providers');
  });

  it('counts in a store once an edit names one', async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await loadedPackages(rt)).not.toContain('@redis/client');
    const withStore = policyDocument(sim.url, (d) => {
      d.rateLimit = resolveRateLimit(
        ratePolicy({
          requests: { perSecond: 10_000, burst: 10_000 },
          store: { redis: { address: redis.address } },
        }),
        1,
        d.agent.name,
      );
    });
    const edited = performance.now();
    rt.writePolicy(withStore);
    const applied = await appliedAfter(rt, withStore, edited);
    await waitFor(
      async () => {
        await call(rt);
        return sample(await rt.runtime.metrics(), 'rate_limiter_store_decisions_total') > 0;
      },
      { timeoutMs: 10_000, intervalMs: 20, description: 'a call decided by the store' },
    );
    process.stdout.write(
      `policy edit adding a store → applied ${applied.toFixed(0)} ms, first call decided by it ${(performance.now() - edited).toFixed(0)} ms\n`,
    );
    expect(await loadedPackages(rt)).toContain('@redis/client');
  });

  it("neither idles nor relays with Node's internal undici loaded", async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await loadedInternals(rt)).toEqual(expect.arrayContaining(['http', 'tls']));
    expect(await loadedInternals(rt)).not.toContain(NODE_UNDICI);
    expect(await call(rt)).toBe('default');
    expect(await loadedInternals(rt)).not.toContain(NODE_UNDICI);
  });

  it("relays on undici's pool and error classes without its index (fetch, WebSocket, mocks)", async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await call(rt)).toBe('default');
    const undici = ((await probedPackages(rt))['undici'] ?? []).map((url) =>
      url.replace(/^.*\/undici\//, ''),
    );
    expect(undici).toEqual(expect.arrayContaining(['lib/dispatcher/pool.js']));
    expect(undici).not.toContain('index.js');
  });

  it("serves without fastify's schema compilers (ajv, fast-json-stringify's): no route has a schema", async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await call(rt)).toBe('default');
    const { required } = await probe(rt);
    expect(required).toEqual(expect.arrayContaining(['fastify', 'find-my-way']));
    for (const compiler of [
      'ajv',
      '@fastify/ajv-compiler',
      '@fastify/fast-json-stringify-compiler',
    ])
      expect(required).not.toContain(compiler);
  });

  it("loads the Anthropic SDK's client with the agent loop's first turn, not for pass-through calls", async () => {
    const rt = await start(policyDocument(sim.url));
    expect(await call(rt)).toBe('default');
    // The error classes only: the SDK's small core/error module, not its client.
    const sdk = (await probedPackages(rt))['@anthropic-ai/sdk'] ?? [];
    expect(sdk.map((url) => url.replace(/^.*\/@anthropic-ai\/sdk\//, ''))).toEqual([
      'core/error.mjs',
    ]);

    const response = await fetch(`${rt.runtime.url}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'hello' }),
    });
    const answer = (await response.json()) as { output?: unknown };
    expect(response.status).toBe(200);
    expect(typeof answer.output).toBe('string');
    expect((await probedPackages(rt))['@anthropic-ai/sdk']).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/@anthropic-ai\/sdk\/index\.mjs$/)]),
    );
  });
});

/**
 * One request, three places to answer it, seen from the unmodified Anthropic SDK:
 * SDK → runtime → simulator speaking the Anthropic API, Bedrock (SigV4-checked, event-stream
 * frames split across reads) and Vertex AI (bearer tokens from its token endpoint). The
 * runtime's backends are `anthropic` (priority 0), `bedrock` (1) and `vertex` (2); their
 * credentials are files in a directory standing in for the mounted Secrets, rotated the way
 * the kubelet rotates them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { stringify } from 'yaml';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { BACKEND_CREDENTIALS_DIR_ENV } from '../../contract/src/pod/runtimeEnvironment.ts';
import { startRuntime } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  FALLBACK_MODEL,
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const AWS = { accessKeyId: 'AKIDBREAKWATERTEST1', secretAccessKey: 'first-secret-key' };
const SA_EMAIL = 'runtime@sim-project.iam.gserviceaccount.com';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const BEDROCK_IDS = {
  [PRIMARY_MODEL]: `us.anthropic.${PRIMARY_MODEL}-v1:0`,
  [FALLBACK_MODEL]: `us.anthropic.${FALLBACK_MODEL}-v1:0`,
};
const VERTEX_IDS = {
  [PRIMARY_MODEL]: `${PRIMARY_MODEL}@20261001`,
  [FALLBACK_MODEL]: `${FALLBACK_MODEL}@20261001`,
};

let sim: SimulatorHandle;
let credentials: string;
let running: StandaloneRuntime | undefined;

/** Writes a Secret's files the kubelet's way: a new directory swapped in by one rename. */
function mountSecret(name: string, files: Record<string, string>): void {
  const next = join(credentials, `.${name}-${Date.now()}`);
  mkdirSync(next);
  for (const [file, value] of Object.entries(files)) writeFileSync(join(next, file), value);
  rmSync(join(credentials, name), { recursive: true, force: true });
  renameSync(next, join(credentials, name));
}

function threeBackends(d: { -readonly [K in keyof PolicyDocument]: PolicyDocument[K] }): void {
  d.backends = [
    { name: 'anthropic', baseURL: sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 },
    {
      name: 'bedrock',
      type: 'Bedrock',
      region: 'us-east-1',
      baseURL: sim.url,
      credentialsSecret: 'aws',
      priority: 1,
      weight: 1,
      models: BEDROCK_IDS,
    },
    {
      name: 'vertex',
      type: 'Vertex',
      region: 'us-east5',
      projectID: 'sim-project',
      baseURL: sim.url,
      credentialsSecret: 'gcp',
      priority: 2,
      weight: 1,
      models: VERTEX_IDS,
    },
  ];
  d.retry = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 };
}

async function start(
  change: (d: { -readonly [K in keyof PolicyDocument]: PolicyDocument[K] }) => void = () =>
    undefined,
): Promise<Anthropic> {
  running = await standaloneRuntime(
    policyDocument(sim.url, (d) => {
      threeBackends(d);
      change(d);
    }),
    { [BACKEND_CREDENTIALS_DIR_ENV]: credentials },
  );
  return new Anthropic({ baseURL: running.runtime.url, apiKey: 'unused', maxRetries: 0 });
}

const ask = {
  model: PRIMARY_MODEL,
  max_tokens: 32,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

beforeAll(async () => {
  credentials = mkdtempSync(join(tmpdir(), 'bw-backend-credentials-'));
  const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keyFile = join(credentials, 'sa.json');
  writeFileSync(
    keyFile,
    JSON.stringify({ type: 'service_account', client_email: SA_EMAIL, private_key: privateKey }),
  );
  sim = await startSimulator({
    seed: 22,
    args: [
      '--aws-credentials',
      `${AWS.accessKeyId}:${AWS.secretAccessKey}`,
      '--vertex-service-account',
      keyFile,
    ],
  });
  mountSecret('bedrock', {
    AWS_ACCESS_KEY_ID: AWS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
  });
  mountSecret('vertex', {
    'credentials.json': JSON.stringify({
      type: 'service_account',
      project_id: 'sim-project',
      client_email: SA_EMAIL,
      private_key: privateKey,
      token_uri: `${sim.url}/token`,
    }),
  });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  await sim.clearFaults();
  await sim.resetStats();
});

afterAll(async () => {
  await sim.stop();
  rmSync(credentials, { recursive: true, force: true });
});

describe('failover within one request', () => {
  it('serves from Bedrock when the Anthropic API answers 529, plain and streamed', async () => {
    const client = await start();
    await sim.setFault({ status: 529, provider: 'anthropic' });

    const plain = await client.messages.create(ask).withResponse();
    expect(plain.response.headers.get('x-breakwater-backend')).toBe('bedrock');
    expect(plain.data.content[0]).toMatchObject({ type: 'text', text: 'You said: hello' });

    const stream = client.messages.stream(ask);
    const { response } = await stream.withResponse();
    const message = await stream.finalMessage();
    expect(response.headers.get('x-breakwater-backend')).toBe('bedrock');
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'You said: hello' });
    expect(message.stop_reason).toBe('end_turn');

    const stats = await sim.stats();
    expect(stats.byProvider.anthropic.requests).toBe(2);
    expect(stats.byProvider.bedrock.requests).toBe(2);
  });

  it('serves from Vertex when Bedrock throttles before any content', async () => {
    const client = await start();
    await sim.setFault({ status: 529, provider: 'anthropic' });
    await sim.addFault({ status: 429, provider: 'bedrock', inStream: 'before-content' });
    const stream = client.messages.stream(ask);
    const { response } = await stream.withResponse();
    expect((await stream.finalMessage()).content[0]).toMatchObject({ text: 'You said: hello' });
    expect(response.headers.get('x-breakwater-backend')).toBe('vertex');
    const plain = await client.messages.create(ask).withResponse();
    expect(plain.response.headers.get('x-breakwater-backend')).toBe('vertex');
  });

  it.each(['bedrock', 'vertex'])(
    'counts tokens through %s (CountTokens, count-tokens:rawPredict) as the Messages API answers',
    async (only) => {
      const client = await start((d) => {
        d.backends = d.backends.filter((b) => b.name === only);
      });
      const counted = await client.messages
        .countTokens({ model: PRIMARY_MODEL, messages: ask.messages })
        .withResponse();
      expect(counted.data.input_tokens).toBeGreaterThan(0);
      expect(counted.response.headers.get('x-breakwater-backend')).toBe(only);
    },
  );

  it('raises an error inside a Bedrock stream after content in the SDK, as the Anthropic API would', async () => {
    const client = await start();
    await sim.setFault({ status: 529, provider: 'anthropic' });
    await sim.addFault({ status: 500, provider: 'bedrock', inStream: 'after-content' });
    const stream = client.messages.stream({ ...ask, max_tokens: 200 });
    await expect(stream.finalMessage()).rejects.toMatchObject({ type: 'api_error' });
    // Content had reached the caller: nothing was spliced on from Vertex.
    expect((await sim.stats()).byProvider.vertex.requests).toBe(0);
  });

  it('opens each backend breaker when all are down, answers 503 without a call, and returns to priority 0 on recovery', async () => {
    const client = await start((d) => {
      d.circuitBreaker = { ...d.circuitBreaker, failureThreshold: 2, openDurationMs: 1_000 };
    });
    // 500 on every wire: Bedrock's InternalServerException, Vertex's INTERNAL. (Throttling
    // fails over too, but is RateLimited, which the default failOn does not count.)
    await sim.setFault({ status: 500 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        await client.messages.create(ask).then(
          () => 200,
          (e: unknown) => (e as { status?: number }).status ?? 0,
        ),
      );
    }
    expect(statuses.at(-1)).toBe(503);
    await sim.resetStats();
    await expect(client.messages.create(ask)).rejects.toMatchObject({ status: 503 });
    expect((await sim.stats()).requests).toBe(0);
    const { breakers } = (await (
      await fetch(`${running?.runtime.url ?? ''}/debug/breakers`)
    ).json()) as { breakers: Record<string, { state: string }> };
    for (const backend of ['anthropic', 'bedrock', 'vertex'])
      expect(breakers[`${backend}/${PRIMARY_MODEL}`]?.state).toBe('Open');

    await sim.clearFaults();
    const servedBy = await waitFor(
      async () => {
        const { response } = await client.messages.create(ask).withResponse();
        const backend = response.headers.get('x-breakwater-backend');
        if (backend !== 'anthropic') throw new Error(`served by ${String(backend)}`);
        return backend;
      },
      { timeoutMs: 15_000, intervalMs: 100, description: 'anthropic to serve again' },
    );
    expect(servedBy).toBe('anthropic');
  });
});

describe('credentials', () => {
  it('signs the next call with a rotated key, without a restart', async () => {
    const client = await start((d) => {
      d.backends = d.backends.filter((b) => b.name === 'bedrock');
    });
    expect(
      (await client.messages.create(ask).withResponse()).response.headers.get(
        'x-breakwater-backend',
      ),
    ).toBe('bedrock');
    // The simulator now accepts only the new key; the Secret is rotated under the runtime.
    const rotated = { accessKeyId: 'AKIDBREAKWATERTEST2', secretAccessKey: 'second-secret-key' };
    await fetch(`${sim.url}/_sim/credentials`, { method: 'DELETE' });
    await fetch(`${sim.url}/_sim/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'bedrock', ...rotated }),
    });
    mountSecret('bedrock', {
      AWS_ACCESS_KEY_ID: rotated.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rotated.secretAccessKey,
    });
    // Each try that the simulator refuses throws: waitFor keeps the last refusal for its failure.
    const answered = await waitFor(() => client.messages.create(ask), {
      timeoutMs: 10_000,
      intervalMs: 100,
      description: 'a call signed with the rotated key',
    });
    expect(answered.type).toBe('message');
    // Restore the first key for the other cases.
    await fetch(`${sim.url}/_sim/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'bedrock', ...AWS }),
    });
    mountSecret('bedrock', {
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey,
    });
  });

  it('keeps Vertex calls going as their tokens expire: google-auth-library fetches the next in time', async () => {
    const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyFile = join(credentials, 'sa.json');
    const shortLived = await startSimulator({
      seed: 23,
      args: ['--vertex-service-account', keyFile, '--vertex-token-ttl-seconds', '1'],
    });
    try {
      mountSecret('vertex-short', {
        'credentials.json': JSON.stringify({
          type: 'service_account',
          client_email: SA_EMAIL,
          private_key: privateKey,
          token_uri: `${shortLived.url}/token`,
        }),
      });
      const client = await start((d) => {
        d.backends = [
          {
            name: 'vertex-short',
            type: 'Vertex',
            region: 'global',
            projectID: 'sim-project',
            baseURL: shortLived.url,
            credentialsSecret: 'gcp-short',
            weight: 1,
            models: VERTEX_IDS,
          },
        ];
      });
      // Across three token lifetimes, every call answered.
      const started = Date.now();
      let calls = 0;
      while (Date.now() - started < 3_000) {
        await client.messages.create(ask);
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(calls).toBeGreaterThan(5);
      expect((await shortLived.stats()).byProvider.vertex.requests).toBe(calls);
    } finally {
      await shortLived.stop();
    }
  });

  it('answers a wrong key with a clear error naming the backend and the field', async () => {
    mountSecret('wrong', {
      AWS_ACCESS_KEY_ID: AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
    });
    const client = await start((d) => {
      d.backends = d.backends
        .filter((b) => b.name === 'bedrock')
        .map((b) => ({ ...b, credentialsSecret: 'wrong', name: 'wrong' }));
    });
    const err = await client.messages.create(ask).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The runtime's own credentials, which the caller cannot fix: a 502 that says why.
    expect(err).toBeInstanceOf(Anthropic.InternalServerError);
    expect((err as Error).message).toMatch(
      /Bedrock backend wrong .*InvalidSignatureException.*spec\.backends\[wrong\]\.credentialsSecretRef/,
    );
  });
});

describe('--manifests', () => {
  /** An agent on Bedrock alone, its credentials a Secret among the manifests, as applied. */
  function manifests(dir: string, aws: { accessKeyId: string; secretAccessKey: string }): void {
    const objects = [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'bedrock-credentials' },
        stringData: {
          AWS_ACCESS_KEY_ID: aws.accessKeyId,
          AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
        },
      },
      {
        apiVersion: 'breakwater.dev/v1alpha1',
        kind: 'AgentDeployment',
        metadata: { name: 'on-bedrock' },
        spec: {
          model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
          provider: { apiKeySecretRef: { name: 'unused', key: 'api-key' } },
          backends: [
            {
              name: 'bedrock-us',
              type: 'Bedrock',
              region: 'us-east-1',
              baseURL: sim.url,
              credentialsSecretRef: { name: 'bedrock-credentials' },
              models: BEDROCK_IDS,
            },
          ],
          replicas: 1,
        },
      },
    ];
    writeFileSync(join(dir, 'agent.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  }

  it('says so when the credentials Secret is not among the manifests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-manifest-backends-'));
    manifests(dir, AWS);
    const file = join(dir, 'agent.yaml');
    // The Secret goes; the agent still names it.
    writeFileSync(file, readFileSync(file, 'utf8').split('---\n').slice(1).join('---\n'));
    const runtime = await startRuntime(['--manifests', dir, '--log-level', 'warn']);
    try {
      const said = await waitFor(
        () =>
          runtime.output.find((line) =>
            line.includes(
              'Secret bedrock-credentials (spec.backends[bedrock-us].credentialsSecretRef) is not among the manifests',
            ),
          ),
        { timeoutMs: 5_000, intervalMs: 50, description: 'the warning about the missing Secret' },
      );
      expect(said).toContain('"level":"warn"');
    } finally {
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("signs with the backend's credentials Secret among the manifests, and follows its edits", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-manifest-backends-'));
    manifests(dir, AWS);
    // No credentials directory in the environment: the Secret among the manifests is the
    // only place the keys are.
    const runtime = await startRuntime(['--manifests', dir, '--log-level', 'warn']);
    try {
      const client = new Anthropic({ baseURL: runtime.url, apiKey: 'unused', maxRetries: 0 });
      const first = await client.messages.create(ask).withResponse();
      expect(first.response.headers.get('x-breakwater-backend')).toBe('bedrock-us');
      const rotated = { accessKeyId: 'AKIDBREAKWATERTEST3', secretAccessKey: 'third-secret-key' };
      await fetch(`${sim.url}/_sim/credentials`, { method: 'DELETE' });
      await fetch(`${sim.url}/_sim/credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'bedrock', ...rotated }),
      });
      manifests(dir, rotated);
      const answered = await waitFor(() => client.messages.create(ask), {
        timeoutMs: 10_000,
        intervalMs: 100,
        description: 'a call signed with the edited Secret',
      });
      expect(answered.type).toBe('message');
    } finally {
      await fetch(`${sim.url}/_sim/credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'bedrock', ...AWS }),
      });
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

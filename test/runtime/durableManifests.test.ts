/**
 * A durable agent as `--manifests` runs it (issue 36): the journal key read from its Secret among
 * the manifests, and a pod's first calls while its store is still connecting (a proxy that
 * holds every connection until released). Real runtime processes, the simulator and a real
 * redis-server.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { stringify } from 'yaml';
import { KEY_A } from '../support/durableRunFixture.ts';
import { startHeldProxy } from '../support/heldProxy.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startRuntime } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { PRIMARY_MODEL } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

let sim: SimulatorHandle;
let redis: RedisHandle;

beforeAll(async () => {
  sim = await startSimulator();
  redis = await startRedis();
});

afterAll(async () => {
  await Promise.all([sim.stop(), redis.remove()]);
});

beforeEach(async () => {
  await sim.resetStats();
});

const ask = (content: string) => ({
  model: PRIMARY_MODEL,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content }],
});

/** An agent, its journal key and its provider key as `--manifests` reads them, in `dir`. */
function writeDurableManifests(dir: string, storeAddress: string): void {
  const key = Buffer.alloc(32, 3).toString('base64');
  writeFileSync(
    join(dir, 'agent.yaml'),
    stringify({
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: { name: 'durable', namespace: 'tests' },
      spec: {
        model: { name: PRIMARY_MODEL },
        provider: {
          baseURL: sim.url,
          apiKeySecretRef: { name: 'provider', key: 'api-key' },
        },
        durability: {
          store: { redis: { address: storeAddress } },
          encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
        },
      },
    }) +
      '---\n' +
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'journal-key', namespace: 'tests' },
        data: { key: Buffer.from(key).toString('base64') },
      }) +
      '---\n' +
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'provider', namespace: 'tests' },
        stringData: { 'api-key': 'sk-manifests' },
      }),
  );
}

/** A start of a team's agent: the run, and an attempt of its own. */
function runClient(url: string, run: string): Anthropic {
  return new Anthropic({
    baseURL: url,
    apiKey: KEY_A,
    maxRetries: 0,
    defaultHeaders: { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() },
  });
}

describe('a durable agent from --manifests', () => {
  it('reads the journal key from its Secret among the manifests and replays a run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-durable-manifests-'));
    writeDurableManifests(dir, redis.address);
    const runtime = await startRuntime(['--manifests', dir, '--log-level', 'info'], {
      BREAKWATER_CLIENT_KEYS: KEY_A,
    });
    try {
      const run = randomUUID();
      const first = await runClient(runtime.url, run).messages.create(ask('What is a bulkhead?'));
      // The agent started again: its first call is answered from the journal.
      const again = await runClient(runtime.url, run).messages.create(ask('What is a bulkhead?'));
      expect(again.id).toBe(first.id);
      expect((await sim.stats()).requests).toBe(1);
    } finally {
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says its key Secret is missing, naming it, and serves calls live', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-durable-manifests-'));
    writeDurableManifests(dir, redis.address);
    const file = join(dir, 'agent.yaml');
    // The AgentDeployment's reference (written first) names a Secret the manifests lack.
    writeFileSync(file, readFileSync(file, 'utf8').replace('name: journal-key', 'name: other-key'));
    const runtime = await startRuntime(['--manifests', dir, '--log-level', 'info'], {
      BREAKWATER_CLIENT_KEYS: KEY_A,
    });
    try {
      // Not "set spec.durability": it is set, and its Secret is what is missing.
      const started = await fetch(`${runtime.url}/v1/agent/runs`, {
        method: 'POST',
        headers: { 'x-api-key': KEY_A, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'hello' }),
      });
      expect(started.status).toBe(503);
      const { error } = (await started.json()) as { error: { message: string } };
      expect(error.message).toContain('spec.durability is set');
      expect(error.message).toContain('encryptionKeySecretRef (Secret other-key, key key)');
      const client = runClient(runtime.url, randomUUID());
      expect((await client.messages.create(ask('What is a bulkhead?'))).type).toBe('message');
    } finally {
      await runtime.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('journals a call made while its store is still connecting', async () => {
    // A pod's first call meets a journal that is not connected yet, and waits for it instead of
    // going on unjournaled.
    const run = randomUUID();
    const question = ask('What is a circuit breaker?');
    await whileStoreConnecting(
      (url) => runClient(url, run).messages.create(question),
      async (url, answered) => {
        const again = await runClient(url, run).messages.create(question);
        expect(again.id).toBe(answered.id);
        expect((await sim.stats()).requests).toBe(1);
      },
    );
  });

  it('keeps an invocation with Idempotency-Key as a run while its store is still connecting', async () => {
    // Served as an ordinary invocation, it would leave no run to read and none to take over.
    const headers = { 'x-api-key': KEY_A, 'content-type': 'application/json' };
    await whileStoreConnecting(
      (url) =>
        fetch(`${url}/v1/agent/invoke`, {
          method: 'POST',
          headers: { ...headers, 'idempotency-key': `connecting-${randomUUID()}` },
          body: JSON.stringify({ input: 'What is a circuit breaker?' }),
        }),
      async (url, answered) => {
        expect(answered.status).toBe(200);
        const run = String(answered.headers.get('breakwater-run-id'));
        const read = await fetch(`${url}/v1/agent/runs/${run}`, { headers });
        expect(read.status).toBe(200);
        expect(await read.json()).toMatchObject({
          state: 'completed',
          result: await answered.json(),
        });
      },
    );
  });
});

/**
 * A runtime from the manifests whose store accepts nothing until `send`'s call is in: the call
 * is made, given long enough to reach the journal (it waits up to 3 s for it), the store let go,
 * and `check` run with the call's answer.
 */
async function whileStoreConnecting<T>(
  send: (url: string) => Promise<T>,
  check: (url: string, answered: T) => Promise<void>,
): Promise<void> {
  const proxy = await startHeldProxy(redis.address);
  const dir = mkdtempSync(join(tmpdir(), 'bw-durable-connecting-'));
  writeDurableManifests(dir, proxy.address);
  const runtime = await startRuntime(['--manifests', dir, '--log-level', 'info'], {
    BREAKWATER_CLIENT_KEYS: KEY_A,
  });
  try {
    await waitFor(() => proxy.held > 0, {
      description: 'the runtime to connect to its store',
      timeoutMs: 10_000,
    });
    const sent = send(runtime.url);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(proxy.held).toBeGreaterThan(0);
    proxy.release();
    await check(runtime.url, await sent);
  } finally {
    await runtime.stop();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every error answer names a request id, as the API's do, seen through the real SDK: the
 * `request-id` header (the SDK's `requestID`) and the body's `request_id` are the same id,
 * the provider's when the provider answered with the error, else the runtime's own, which
 * its log names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  PRIMARY_MODEL,
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const KEY = 'bw-error-ids-key';

let sim: SimulatorHandle;
let rt: StandaloneRuntime;

beforeAll(async () => {
  sim = await startSimulator({ seed: 52 });
  rt = await standaloneRuntime(
    policyDocument(sim.url, (d) => {
      d.access = { clientKeysSecret: 'error-ids' };
      // One call, then the limiter refuses.
      d.rateLimit.requests = { replicaPerSecond: 0.001, replicaBurst: 1 };
      d.rateLimit.onLimit = 'Reject';
    }),
    { BREAKWATER_CLIENT_KEYS: KEY },
  );
});

afterAll(async () => {
  await rt.stop();
  await sim.stop();
});

/** The SDK's error for one call with `apiKey`, and the id its body carried. */
async function failedCall(apiKey: string): Promise<{ error: APIError; bodyId: unknown }> {
  const client = new Anthropic({ baseURL: rt.runtime.url, apiKey, maxRetries: 0 });
  const error = await client.messages
    .create({ model: PRIMARY_MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  if (!(error instanceof APIError)) throw new Error(`expected an APIError, got ${String(error)}`);
  const body = error.error as { request_id?: unknown } | undefined;
  return { error: error as APIError, bodyId: body?.request_id };
}

/** The runtime's own ids (requestIds.ts) and the API's (the simulator imitates them). */
const RUNTIME_ID = /^req_[A-Za-z0-9_-]{20}$/;
const PROVIDER_ID = /^req_01[A-Za-z0-9]{22}$/;

/** Waits for the runtime's log to name `id` as `field`. */
async function logged(id: string, field = 'reqId'): Promise<void> {
  await waitFor(() => rt.runtime.output.some((chunk) => chunk.includes(`"${field}":"${id}"`)), {
    timeoutMs: 10_000,
    intervalMs: 50,
    description: `a log line naming ${id}`,
  });
}

describe('an error answer', () => {
  it("names the runtime's own id for a wrong key, in the header, the body and the log", async () => {
    const { error, bodyId } = await failedCall('not-a-client-key');
    expect(error.status).toBe(401);
    expect(error.requestID).toMatch(RUNTIME_ID);
    expect(bodyId).toBe(error.requestID);
    await logged(error.requestID as string);
  });

  it("names the provider's id for the provider's error", async () => {
    await sim.setFault({ status: 500, count: 1 });
    try {
      const { error, bodyId } = await failedCall(KEY);
      expect(error.status).toBe(502);
      expect(error.requestID).toMatch(PROVIDER_ID);
      expect(bodyId).toBe(error.requestID);
      await logged(error.requestID as string, 'providerRequestId');
      const stats = await sim.stats();
      expect(stats.requests).toBe(1);
    } finally {
      await sim.clearFaults();
    }
  });

  it("names the runtime's own id for the limiter's 429, in the header, the body and the log", async () => {
    // The one call the limiter allowed went to the provider above.
    const { error, bodyId } = await failedCall(KEY);
    expect(error.status).toBe(429);
    expect(error.requestID).toMatch(RUNTIME_ID);
    expect(bodyId).toBe(error.requestID);
    await logged(error.requestID as string);
  });
});

describe('the Models API', () => {
  const client = (apiKey = KEY) =>
    new Anthropic({ baseURL: rt.runtime.url, apiKey, maxRetries: 0 });

  it("lists the agent's models through the SDK", async () => {
    const page = await client().models.list();
    expect(page.data.map((m) => m.id)).toEqual([PRIMARY_MODEL]);
    expect(page.data[0]).toMatchObject({ type: 'model', display_name: PRIMARY_MODEL });
    expect(page.has_more).toBe(false);
  });

  it('retrieves one of them, and answers 404 in the API shape for another', async () => {
    expect(await client().models.retrieve(PRIMARY_MODEL)).toMatchObject({ id: PRIMARY_MODEL });
    await expect(client().models.retrieve('claude-nobody-1')).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
  });

  it('enforces the client keys', async () => {
    await expect(client('not-a-client-key').models.list()).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });
});

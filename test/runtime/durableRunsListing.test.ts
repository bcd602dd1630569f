/**
 * `/debug/runs` (issue 36, on-call): what a runtime lists of the runs its agent's journal holds
 * in a real redis-server, after a team's own agent (the official SDKs, durableAgent.ts) was
 * SIGKILLed mid-run with its runtime and run again on a new runtime; after a run diverged; and
 * while the store cannot be reached. The listing shows steps and counts, never an answer, and
 * another client key's run only by its id's fingerprint.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { RunsDocument } from '../../contract/src/reporting/runsListing.ts';
import { runFingerprint } from '../../runtime/src/durable/runListing.ts';
import { startMcpServer, type McpTestServer } from '../support/mcpServer.ts';
import { freePort } from '../support/podReach.ts';
import { startRedis, type RedisHandle } from '../support/redisServer.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import type { StandaloneRuntime } from '../support/standaloneRuntime.ts';
import {
  durableRuntime,
  finished,
  KEY_A,
  killRuntime,
  startAgent,
} from '../support/durableRunFixture.ts';

let sim: SimulatorHandle;
let redis: RedisHandle;
let mcp: McpTestServer;
let rt: StandaloneRuntime;

const setup = () => ({ simUrl: sim.url, redis, mcp });

beforeAll(async () => {
  sim = await startSimulator();
  redis = await startRedis();
  mcp = await startMcpServer();
});

afterAll(async () => {
  await Promise.all([sim.stop(), redis.remove(), mcp.stop()]);
});

beforeEach(async () => {
  rt = await durableRuntime(setup());
});

afterEach(async () => {
  await rt.stop();
});

async function listing(query = ''): Promise<{ status: number; text: string }> {
  const response = await fetch(`${rt.runtime.metricsUrl}/debug/runs${query}`);
  return { status: response.status, text: await response.text() };
}

async function listedRun(run: string) {
  const { status, text } = await listing('?limit=200');
  expect(status).toBe(200);
  // Another client key's run: its id appears nowhere, nor any prompt or answer.
  expect(text).not.toContain(run);
  expect(text).not.toContain('Step 1');
  expect(text).not.toContain('file_ticket');
  const document = JSON.parse(text) as RunsDocument;
  expect(document.retentionSeconds).toBe(3600);
  return document.runs.find((r) => r.run === runFingerprint(run));
}

describe('the runs a journal holds', () => {
  it('lists a run resumed after its runtime was killed, with its steps and what replay did', async () => {
    const run = randomUUID();
    const first = startAgent(rt.runtime.url, run, { STOP_AFTER: '3' });
    await first.step(3);
    await first.kill();
    await killRuntime(rt);
    rt = await durableRuntime(setup());
    const before = await listedRun(run);
    expect(before).toMatchObject({ steps: 6, cursor: 6, resumed: 0, replayed: 0 });

    await finished(startAgent(rt.runtime.url, run));

    const listed = await listedRun(run);
    expect(listed).toMatchObject({
      owner: 'client-key',
      state: 'running',
      steps: 12,
      cursor: 12,
      resumed: 1,
      replayed: 6,
      diverged: 0,
    });
    expect(listed?.stepCodes).toEqual(Array.from({ length: 6 }, () => ['m', 't']).flat());
    expect(Date.now() - Date.parse(listed?.lastStep ?? '')).toBeLessThan(3_600_000);
  });

  it('counts a divergence on the run', async () => {
    const run = randomUUID();
    const first = startAgent(rt.runtime.url, run, { STOP_AFTER: '4', TIME_AT: '3' });
    await first.step(4);
    await first.kill();
    await finished(startAgent(rt.runtime.url, run, { TIME_AT: '3' }));
    expect(await listedRun(run)).toMatchObject({ steps: 12, resumed: 1, diverged: 1, replayed: 4 });
  });

  it('refuses a limit out of range, naming it', async () => {
    const { status, text } = await listing('?limit=0');
    expect(status).toBe(400);
    expect(text).toContain('limit must be a whole number from 1 to 200, got \\"0\\"');
  });
});

describe('a store that cannot be reached', () => {
  it('answers 503 saying the store does not answer, and the agent’s calls still go on', async () => {
    await rt.stop();
    const nowhere: RedisHandle = { ...redis, address: `127.0.0.1:${String(await freePort())}` };
    rt = await durableRuntime({ simUrl: sim.url, redis: nowhere, mcp });
    const served = (await sim.billed()).length;
    const { status, text } = await listing();
    expect(status).toBe(503);
    expect(text).toContain('the journal store does not answer');
    // A run it could not keep is refused, never accepted and dropped (D3), keyed or not.
    for (const keyed of [{}, { 'idempotency-key': randomUUID() }]) {
      const started = await fetch(`${rt.runtime.url}/v1/agent/runs`, {
        method: 'POST',
        signal: AbortSignal.timeout(20_000),
        headers: { 'x-api-key': KEY_A, 'content-type': 'application/json', ...keyed },
        body: JSON.stringify({ input: 'File a ticket.' }),
      });
      expect(started.status).toBe(503);
      expect(started.headers.get('location')).toBeNull();
      expect(await started.json()).toMatchObject({
        type: 'error',
        error: {
          type: 'api_error',
          message: 'the journal store cannot be reached: the run was not started; try again',
        },
      });
    }
    expect(await sim.billed()).toHaveLength(served);
    const steps = await finished(startAgent(rt.runtime.url, randomUUID(), { STEPS: '2' }));
    expect(steps.map((s) => s.step)).toEqual([1, 2]);
  });
});

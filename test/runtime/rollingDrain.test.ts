/**
 * A rolling update drops nothing: steady traffic to a runtime process while it gets SIGTERM.
 * Readiness fails at once; requests keep being served through the drain delay (endpoints and
 * proxies still send for a few seconds on a real cluster); after it, new requests are refused
 * with 503 or find the port closed, and every request admitted before finishes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../support/kube.ts';
import { countOutcome, drainCall, type DrainCall } from '../support/drainCalls.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { PRIMARY_MODEL, policyDocument } from '../support/standaloneRuntime.ts';

const DRAIN_DELAY_MS = 1_500;
const PROVIDER_LATENCY_MS = 200;
const CALLERS = 8;
/** Requests sent this close to the end of the drain may land on either side of it. */
const EDGE_MS = 150;

let sim: SimulatorHandle;
let runtime: RuntimeHandle;
let dir: string;

beforeAll(async () => {
  sim = await startSimulator({ seed: 13 });
  await sim.setFault({ latencyMs: PROVIDER_LATENCY_MS });
  dir = mkdtempSync(join(tmpdir(), 'bw-drain-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policyDocument(sim.url)));
  runtime = await startRuntime(
    ['--policy', policyFile, `--drain-delay-ms=${String(DRAIN_DELAY_MS)}`],
    { ANTHROPIC_API_KEY: 'sk-test-drain' },
  );
});

afterAll(async () => {
  await runtime.stop();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a runtime told to stop under steady traffic', () => {
  it('serves through the drain delay, then refuses, and loses nothing', async () => {
    const sent: DrainCall[] = [];
    let stopSending = false;
    const callers = Array.from({ length: CALLERS }, async () => {
      while (!stopSending) {
        const result = await drainCall(runtime.url, PRIMARY_MODEL);
        sent.push(result);
        // A caller told to go elsewhere does, as one behind a Service or an ingress would.
        if (result.outcome !== 'served') return;
      }
    });

    await sim.resetStats();
    // Steady traffic first: every caller has been served a few times.
    await waitFor(() => countOutcome(sent, 'served') >= 40, {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: 'steady traffic before the SIGTERM',
    });
    const sigtermAt = Date.now();
    runtime.child.kill('SIGTERM');
    await waitFor(
      async () => {
        const ready = (await fetch(`${runtime.url}/health/ready`)).status;
        if (ready !== 503) throw new Error(`readiness answered ${String(ready)}`);
        return true;
      },
      { timeoutMs: 250, intervalMs: 0, description: 'readiness to fail within 250 ms of SIGTERM' },
    );
    const drainEnd = sigtermAt + DRAIN_DELAY_MS;
    // The callers keep sending through the whole drain, until the process is gone.
    const exitCode = await runtime.exited;
    stopSending = true;
    await Promise.all(callers);
    expect(exitCode).toBe(0);

    const provider = await sim.stats();

    const before = sent.filter((s) => s.at < sigtermAt);
    const during = sent.filter((s) => s.at >= sigtermAt && s.at < drainEnd - EDGE_MS);
    const later = sent.filter((s) => s.at >= drainEnd - EDGE_MS);
    const served = countOutcome(sent, 'served');
    process.stdout.write(
      `drain: ${String(served)} served (${String(countOutcome(before, 'served'))} before SIGTERM, ` +
        `${String(countOutcome(during, 'served'))} in the ${String(DRAIN_DELAY_MS)} ms drain, ` +
        `${String(countOutcome(later, 'served'))} at its end); ` +
        `refused after it ${String(later.filter((s) => s.detail === '503').length)} with 503, ` +
        `${String(later.filter((s) => s.detail === 'ECONNREFUSED').length)} with the port closed, ` +
        `${String(countOutcome(later, 'unanswered'))} unanswered; lost ${String(countOutcome(sent, 'lost'))}; ` +
        `provider calls ${String(provider.requests)}\n`,
    );

    expect(sent.filter((s) => s.outcome === 'lost').map((s) => s.detail)).toEqual([]);
    expect(before.length).toBeGreaterThan(0);
    expect(during.length).toBeGreaterThanOrEqual(CALLERS * 3);
    expect(during.filter((s) => s.outcome !== 'served').map((s) => s.detail)).toEqual([]);
    expect(countOutcome(later, 'refused')).toBeGreaterThan(0);
    // Every call that reached the provider came back to its caller: none lost in between.
    expect(provider.requests).toBe(served);
  });
});

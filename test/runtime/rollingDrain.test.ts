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
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { PRIMARY_MODEL, policyDocument } from '../support/standaloneRuntime.ts';

const DRAIN_DELAY_MS = 1_500;
const PROVIDER_LATENCY_MS = 200;
const CALLERS = 8;
/** Requests sent this close to the end of the drain may land on either side of it. */
const EDGE_MS = 150;

/**
 * served: 200. refused: 503 overloaded_error, or the port already closed (ECONNREFUSED).
 * unanswered: the connection closed before any answer; the runtime admits nothing after the
 * drain, so only then is it a refusal at the TCP level, not a loss. lost: anything else.
 */
type Outcome = 'served' | 'refused' | 'unanswered' | 'lost';

interface Sent {
  readonly at: number;
  readonly outcome: Outcome;
  readonly detail: string;
}

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

/** One call: served (200), refused (503 overloaded, or the port already closed), or lost. */
async function call(): Promise<Sent> {
  const at = Date.now();
  try {
    const response = await fetch(`${runtime.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: PRIMARY_MODEL,
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hello' }],
      }),
    });
    const body = (await response.json()) as { type?: string; error?: { type?: string } };
    if (response.status === 200 && body.type === 'message')
      return { at, outcome: 'served', detail: '200' };
    if (response.status === 503 && body.error?.type === 'overloaded_error')
      return { at, outcome: 'refused', detail: '503' };
    return { at, outcome: 'lost', detail: `${String(response.status)} ${JSON.stringify(body)}` };
  } catch (err) {
    const code = ((err as Error).cause as { code?: string } | undefined)?.code ?? String(err);
    if (code === 'ECONNREFUSED') return { at, outcome: 'refused', detail: code };
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
      return { at, outcome: 'unanswered', detail: code };
    return { at, outcome: 'lost', detail: code };
  }
}

describe('a runtime told to stop under steady traffic', () => {
  it('serves through the drain delay, then refuses, and loses nothing', async () => {
    const sent: Sent[] = [];
    let stopSending = false;
    const callers = Array.from({ length: CALLERS }, async () => {
      while (!stopSending) {
        const result = await call();
        sent.push(result);
        // A caller told to go elsewhere does, as one behind a Service or an ingress would.
        if (result.outcome !== 'served') return;
      }
    });

    await sim.resetStats();
    await new Promise((resolve) => setTimeout(resolve, 800));
    const sigtermAt = Date.now();
    runtime.child.kill('SIGTERM');
    let ready = 200;
    while (ready === 200 && Date.now() - sigtermAt < 250) {
      ready = (await fetch(`${runtime.url}/health/ready`)).status;
    }
    expect(ready).toBe(503);
    const drainEnd = sigtermAt + DRAIN_DELAY_MS;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS + 1_000));
    stopSending = true;
    await Promise.all(callers);
    expect(await runtime.exited).toBe(0);

    const provider = await sim.stats();

    const before = sent.filter((s) => s.at < sigtermAt);
    const during = sent.filter((s) => s.at >= sigtermAt && s.at < drainEnd - EDGE_MS);
    const later = sent.filter((s) => s.at >= drainEnd - EDGE_MS);
    const count = (list: Sent[], outcome: Outcome) =>
      list.filter((s) => s.outcome === outcome).length;
    const served = count(sent, 'served');
    process.stdout.write(
      `drain: ${String(served)} served (${String(count(before, 'served'))} before SIGTERM, ` +
        `${String(count(during, 'served'))} in the ${String(DRAIN_DELAY_MS)} ms drain, ` +
        `${String(count(later, 'served'))} at its end); ` +
        `refused after it ${String(later.filter((s) => s.detail === '503').length)} with 503, ` +
        `${String(later.filter((s) => s.detail === 'ECONNREFUSED').length)} with the port closed, ` +
        `${String(count(later, 'unanswered'))} unanswered; lost ${String(count(sent, 'lost'))}; ` +
        `provider calls ${String(provider.requests)}\n`,
    );

    expect(sent.filter((s) => s.outcome === 'lost').map((s) => s.detail)).toEqual([]);
    expect(before.length).toBeGreaterThan(0);
    expect(during.length).toBeGreaterThanOrEqual(CALLERS * 3);
    expect(during.filter((s) => s.outcome !== 'served').map((s) => s.detail)).toEqual([]);
    expect(count(later, 'refused')).toBeGreaterThan(0);
    // Every call that reached the provider came back to its caller: none lost in between.
    expect(provider.requests).toBe(served);
  });
});

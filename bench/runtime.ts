/**
 * `make bench-runtime`: throughput and added latency of the runtime, full guard on, against a
 * bare node:http pass-through proxy to the same simulator, in the same run. Loopback only,
 * bounded in time and request count. Writes bench/results/runtime.json and ends with
 *
 *   runtime: throughput_ratio=R p50_added_ms=A p99_added_ms=B
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { samplePolicyDocument } from '../runtime/src/policy/policyFixtures.ts';
import { startRuntime } from '../test/support/runtimeProcess.ts';
import { startSimulator } from '../test/support/simulator.ts';

const CONCURRENCY = 16;
const WARMUP = 300;
const REQUESTS = 3_000;
const ROUNDS = 2;
const BODY = JSON.stringify({
  model: 'claude-sonnet-4-5',
  max_tokens: 32,
  messages: [{ role: 'user', content: 'What is a circuit breaker?' }],
});

interface Run {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function post(port: number): Promise<{ ms: number; ok: boolean }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/messages',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'x-api-key': 'bench',
          'content-length': Buffer.byteLength(BODY),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          resolve({ ms: performance.now() - start, ok: res.statusCode === 200 });
        });
      },
    );
    req.on('error', () => {
      resolve({ ms: performance.now() - start, ok: false });
    });
    req.end(BODY);
  });
}

async function load(port: number, count: number): Promise<Run> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        next++;
        const r = await post(port);
        latencies.push(r.ms);
        if (!r.ok) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rps: count / seconds, p50: at(0.5), p99: at(0.99), errors };
}

/** The baseline: forwards bytes both ways, nothing else. */
function passThroughProxy(target: number): Promise<{ port: number; close: () => void }> {
  const upstream = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });
  const server = createServer((req, res) => {
    const out = httpRequest(
      {
        host: '127.0.0.1',
        port: target,
        path: req.url,
        method: req.method,
        headers: req.headers,
        agent: upstream,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() });
    }),
  );
}

async function main(): Promise<void> {
  const sim = await startSimulator({ seed: 1 });
  const simPort = sim.port;
  const dir = mkdtempSync(join(tmpdir(), 'bw-bench-'));
  const policyFile = join(dir, 'policy.json');
  const doc = samplePolicyDocument();
  writeFileSync(
    policyFile,
    JSON.stringify({
      ...doc,
      backends: [{ name: 'default', baseURL: sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 }],
      // Full guard on, with limits the bench stays inside: it measures overhead, not refusals.
      rateLimit: {
        ...doc.rateLimit,
        requests: { perSecond: 1_000_000, burst: 1_000_000 },
        tokens: { inputPerMinute: 1e10, outputPerMinute: 1e10 },
        concurrency: { maxConcurrent: 256, maxQueue: 256, queueTimeoutMs: 5_000 },
      },
      access: { clientKeysSecret: 'bench-keys' },
    }),
  );
  const runtime = await startRuntime(['--policy', policyFile, '--log-level', 'warn'], {
    ANTHROPIC_API_KEY: 'sk-bench',
    BREAKWATER_CLIENT_KEYS: 'bench',
  });
  const runtimePort = Number(new URL(runtime.url).port);
  const proxy = await passThroughProxy(simPort);

  await load(proxy.port, WARMUP);
  await load(runtimePort, WARMUP);
  const baseline: Run[] = [];
  const guarded: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baseline.push(await load(proxy.port, REQUESTS));
    guarded.push(await load(runtimePort, REQUESTS));
  }
  proxy.close();
  await runtime.stop();
  await sim.stop();
  agent.destroy();

  const best = (runs: Run[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const base = best(baseline);
  const ours = best(guarded);
  const result = {
    when: new Date().toISOString(),
    concurrency: CONCURRENCY,
    requestsPerRun: REQUESTS,
    rounds: ROUNDS,
    baseline: { runs: baseline },
    runtime: { runs: guarded },
    throughputRatio: ours.rps / base.rps,
    p50AddedMs: median(guarded.map((r) => r.p50)) - median(baseline.map((r) => r.p50)),
    p99AddedMs: median(guarded.map((r) => r.p99)) - median(baseline.map((r) => r.p99)),
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/runtime.json', import.meta.url),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  process.stdout.write(
    `runtime: throughput_ratio=${result.throughputRatio.toFixed(2)} p50_added_ms=${result.p50AddedMs.toFixed(2)} p99_added_ms=${result.p99AddedMs.toFixed(2)}\n`,
  );
}

await main();

/**
 * The provider part of `make bench-runtime`, in the same run as the rest:
 *
 * - Bedrock streaming pass-through, measured as the Anthropic one is: the runtime with Bedrock as
 *   its backend (SigV4 on every request, event-stream frames decoded and written as SSE for the
 *   caller's Anthropic SDK) against the same bare node:http proxy in front of the simulator's
 *   Bedrock endpoint, fed the same streams as pre-signed Bedrock requests; interleaved rounds,
 *   the ratio is the runtime's throughput over the proxy's. Beside it, the runtime with Bedrock
 *   against the runtime with the Anthropic API, same streams: what the cloud's wire costs.
 * - Failover latency: a runtime whose Anthropic backend answers 529 to a share of requests
 *   (within the retry budget's 20 %) and fails them over to Bedrock, beside a runtime with
 *   Bedrock alone; sequential requests on keep-alive connections, alternating between the
 *   two. Added p50 is that of the failed-over requests minus Bedrock alone's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Client } from 'undici';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { BACKEND_CREDENTIALS_DIR_ENV } from '../../contract/src/pod/runtimeEnvironment.ts';
import { startRuntime, type RuntimeHandle } from '../../test/support/runtimeProcess.ts';
import type { SimulatorHandle } from '../../test/support/simulator.ts';
import { percentile } from '../../tools/stats/samples.ts';
import { NodeSha256 } from '../../platform/src/crypto/nodeSha256.ts';
import { encodePost } from './closedLoopLoad.ts';

export const BENCH_AWS = { accessKeyId: 'AKIDBREAKWATERBENCH', secretAccessKey: 'bench-secret' };

/** What the comparison needs of bench/runtime.ts's machinery. */
export interface ComparisonOptions {
  readonly sim: SimulatorHandle;
  /** The bare pass-through proxy in front of the simulator. */
  readonly proxy: { readonly port: number; readonly pid: number };
  /** The stream mix's bodies (Messages requests with `stream: true`). */
  readonly streamBodies: readonly Readonly<Record<string, unknown>>[];
  readonly policy: Readonly<Record<string, unknown>>;
  /** A scratch directory. */
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly clientKey: string;
  /** The streams of the streaming comparison, encoded for a port. */
  readonly streams: (port: number) => Buffer[];
  /** Side-by-side rounds of two servers (bench/runtime.ts's), with their summaries. */
  readonly compare: (
    first: { name: string; port: number; pid: number; requests: Buffer[] },
    second: { name: string; port: number; pid: number; requests: Buffer[] },
  ) => Promise<{
    ratio: number;
    /** Each round pair's ratio, second over first. */
    ratios: number[];
    first: { ttfbP50: number; rps: number };
    second: { ttfbP50: number; rps: number };
  }>;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

const bedrockBackend = (url: string, priority?: number) => ({
  name: 'bedrock',
  type: 'Bedrock',
  region: 'us-east-1',
  baseURL: url,
  credentialsSecret: 'bench-aws',
  weight: 1,
  ...(priority === undefined ? {} : { priority }),
  models: {
    [PRIMARY_MODEL]: `us.anthropic.${PRIMARY_MODEL}-v1:0`,
    [FALLBACK_MODEL]: `us.anthropic.${FALLBACK_MODEL}-v1:0`,
  },
});

async function runtimeWith(
  o: ComparisonOptions,
  name: string,
  change: (policy: Record<string, unknown>) => Record<string, unknown>,
): Promise<RuntimeHandle> {
  const file = join(o.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(change({ ...o.policy })));
  return startRuntime(['--policy', file, '--log-level', 'warn'], {
    ...o.env,
    [BACKEND_CREDENTIALS_DIR_ENV]: join(o.dir, 'credentials'),
  });
}

export async function providerComparison(o: ComparisonOptions) {
  const credentials = join(o.dir, 'credentials', 'bedrock');
  mkdirSync(credentials, { recursive: true });
  writeFileSync(join(credentials, 'AWS_ACCESS_KEY_ID'), BENCH_AWS.accessKeyId);
  writeFileSync(join(credentials, 'AWS_SECRET_ACCESS_KEY'), BENCH_AWS.secretAccessKey);

  const anthropic = await runtimeWith(o, 'anthropic', (p) => p);
  const bedrock = await runtimeWith(o, 'bedrock', (p) => ({
    ...p,
    backends: [bedrockBackend(o.sim.url)],
  }));
  const failover = await runtimeWith(o, 'failover', (p) => ({
    ...p,
    backends: [
      { name: 'anthropic', baseURL: o.sim.url, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 },
      bedrockBackend(o.sim.url, 1),
    ],
    // Shadow: the breaker counts but never refuses, so every 529 is failed over, not skipped.
    circuitBreaker: { ...(p.circuitBreaker as object), mode: 'Shadow' },
  }));
  try {
    const port = (r: RuntimeHandle) => Number(new URL(r.url).port);
    const streaming = await o.compare(
      {
        name: 'anthropic',
        port: port(anthropic),
        pid: anthropic.child.pid ?? 0,
        requests: o.streams(port(anthropic)),
      },
      {
        name: 'bedrock',
        port: port(bedrock),
        pid: bedrock.child.pid ?? 0,
        requests: o.streams(port(bedrock)),
      },
    );
    // Signed now: the simulator, like Bedrock, refuses a signature more than 5 minutes old.
    const presigned = await Promise.all(
      o.streamBodies.map((b) => presignedStream(o.proxy.port, b)),
    );
    const passThrough = await o.compare(
      { name: 'proxy', port: o.proxy.port, pid: o.proxy.pid, requests: presigned },
      {
        name: 'bedrock',
        port: port(bedrock),
        pid: bedrock.child.pid ?? 0,
        requests: o.streams(port(bedrock)),
      },
    );
    await o.sim.setFault({ status: 529, provider: 'anthropic', rate: 0.15 });
    const latency = await failoverLatency(o.clientKey, failover.url, bedrock.url);
    await o.sim.clearFaults();
    return {
      bedrockStreaming: {
        method:
          'the runtime with Bedrock as its backend (Anthropic SDK requests, SSE answers) vs a bare node:http proxy to the same simulator Bedrock endpoint (pre-signed InvokeModelWithResponseStream, event-stream answers); same streams, interleaved rounds; ratio is the runtime over the proxy',
        throughputRatio: round2(passThrough.ratio),
        pairRatios: passThrough.ratios.map(round2),
        proxy: passThrough.first,
        runtime: passThrough.second,
        ttfbP50AddedMs: round2(passThrough.second.ttfbP50 - passThrough.first.ttfbP50),
      },
      bedrockVsAnthropic: {
        method:
          'two runtimes on one simulator, the same streams; backend Anthropic vs Bedrock; interleaved rounds; ratio is Bedrock over Anthropic (the simulator’s Bedrock encoding shares the cores)',
        throughputRatio: round2(streaming.ratio),
        anthropic: streaming.first,
        bedrock: streaming.second,
        ttfbP50AddedMs: round2(streaming.second.ttfbP50 - streaming.first.ttfbP50),
      },
      failover: latency,
    };
  } finally {
    await Promise.all([anthropic.stop(), bedrock.stop(), failover.stop()]);
  }
}

/** Sequential plain calls, alternating between the failover runtime and Bedrock alone. */
async function failoverLatency(clientKey: string, failoverURL: string, bedrockURL: string) {
  const REQUESTS = 600;
  const body = JSON.stringify({
    model: PRIMARY_MODEL,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'What is a circuit breaker?' }],
  });
  const clients = { failover: new Client(failoverURL), bedrock: new Client(bedrockURL) };
  const send = async (client: Client) => {
    const started = performance.now();
    const answer = await client.request({
      method: 'POST',
      path: '/v1/messages',
      headers: { 'content-type': 'application/json', 'x-api-key': clientKey },
      body,
    });
    const text = await answer.body.text();
    return {
      ms: performance.now() - started,
      status: answer.statusCode,
      text,
      backend: String(answer.headers['x-breakwater-backend']),
    };
  };
  const failedOver: number[] = [];
  const direct: number[] = [];
  const alone: number[] = [];
  let refused = 0;
  let lastRefusal: string | undefined;
  try {
    for (let i = 0; i < 100; i++)
      await Promise.all([send(clients.failover), send(clients.bedrock)]);
    for (let i = 0; i < REQUESTS; i++) {
      const a = await send(clients.failover);
      // A 529 the retry budget had no retry left for reaches the caller: counted, not timed.
      if (a.status !== 200) {
        refused++;
        lastRefusal = `${a.status} ${a.text}`;
      } else (a.backend === 'bedrock' ? failedOver : direct).push(a.ms);
      const b = await send(clients.bedrock);
      if (b.status !== 200) throw new Error(`Bedrock alone answered ${b.status}: ${b.text}`);
      alone.push(b.ms);
    }
  } finally {
    await Promise.all([clients.failover.close(), clients.bedrock.close()]);
  }
  const p50 = (xs: number[]) =>
    round2(
      percentile(
        [...xs].sort((a, b) => a - b),
        0.5,
      ),
    );
  return {
    method:
      'sequential plain calls on keep-alive connections, alternating: a runtime whose Anthropic backend answers 529 to 15% of calls (failed over to Bedrock, breaker in Shadow) vs a runtime with Bedrock alone',
    requests: REQUESTS,
    failedOver: failedOver.length,
    notRetried: refused,
    ...(lastRefusal === undefined ? {} : { lastRefusal }),
    p50FailedOverMs: p50(failedOver),
    p50AnthropicServedMs: p50(direct),
    p50BedrockAloneMs: p50(alone),
    p50AddedMs: round2(p50(failedOver) - p50(alone)),
  };
}

/** A Bedrock stream request for `body`, SigV4-signed for the proxy's address, as raw HTTP. */
async function presignedStream(
  proxyPort: number,
  body: Readonly<Record<string, unknown>>,
): Promise<Buffer> {
  const { model, stream: _stream, ...rest } = body;
  const payload = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', ...rest });
  const path = `/model/${encodeURIComponent(`us.anthropic.${String(model)}-v1:0`)}/invoke-with-response-stream`;
  const signer = new SignatureV4({
    service: 'bedrock',
    region: 'us-east-1',
    credentials: BENCH_AWS,
    sha256: NodeSha256,
  });
  const host = `127.0.0.1:${proxyPort}`;
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: proxyPort,
    path,
    query: {},
    headers: {
      host,
      'content-type': 'application/json',
      accept: 'application/vnd.amazon.eventstream',
    },
    body: payload,
  });
  const { host: _host, 'content-type': _type, ...headers } = signed.headers;
  return encodePost(path, proxyPort, headers, payload);
}

/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 5: what the provider is sent. A recording proxy in front of the simulator is the
 * policy's backend; each call of steps.ts goes to the lean runtime, then to the long one (the
 * same fault before each), and the requests each made upstream are compared: how many, method,
 * path, every header (ids, the SDK's timeout and retry-count headers kept: they are what the
 * wire carries), and the JSON body. Optionally with tracing on (`--traced`): then traceparent
 * is the runtime's own span and only its shape is compared.
 *
 *   node attacks/lean-route/upstream.ts [--traced] [--only NAME-SUBSTRING]
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import { basePolicy, call, otelEnv, scrub, sleep, startPair, startSink } from './harness.ts';
import { STEPS } from './steps.ts';

interface Upstream {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}
const seenUp: Upstream[] = [];
let simTarget = '';
const proxy = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    seenUp.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: headersOf(req.headers),
      body: bodyOf(body.toString('utf8')),
    });
    const target = new URL(req.url ?? '/', simTarget);
    const up = request(target, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    up.end(body);
  });
});
function headersOf(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h).sort(([a], [b]) => a.localeCompare(b))) {
    if (['host', 'content-length', 'connection'].includes(k)) continue;
    let value = String(v);
    if (k === 'traceparent' && process.argv.includes('--traced'))
      value = value.replace(/^00-[0-9a-f]{32}-[0-9a-f]{16}-/, '00-T-S-');
    out[k] = scrub(value);
  }
  return out;
}
function bodyOf(text: string): string {
  return text.length > 2000
    ? `${text.length} chars, sha ${text.slice(0, 60)}…${text.slice(-60)}`
    : text;
}

const traced = process.argv.includes('--traced');
const only = process.argv.includes('--only')
  ? process.argv[process.argv.indexOf('--only') + 1]
  : undefined;
await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
const sinks = traced ? { lean: await startSink(), long: await startSink() } : undefined;
const pair = await startPair(
  (url) => {
    simTarget = url;
    const p = basePolicy(url, { timeoutMs: 1500, streamIdleTimeoutMs: 1200 });
    return {
      ...p,
      backends: [{ ...p.backends[0]!, baseURL: proxyUrl }],
      circuitBreaker: { ...p.circuitBreaker, failureThreshold: 1000 },
    };
  },
  { firstTokenMs: 10, eventGapMs: 5 },
  {},
  (lean) => (sinks === undefined ? {} : otelEnv(lean ? sinks.lean : sinks.long)),
);
const found: string[] = [];
let compared = 0;
try {
  for (const [i, step] of STEPS.entries()) {
    if (only !== undefined && !step.name.includes(only)) continue;
    const ups: Upstream[][] = [];
    for (const rt of [pair.lean, pair.long]) {
      await pair.sim.clearFaults();
      for (const f of step.fault === undefined
        ? []
        : Array.isArray(step.fault)
          ? step.fault
          : [step.fault])
        await pair.sim.addFault(f);
      seenUp.length = 0;
      await call(rt, {
        ...step.o,
        headers: {
          ...step.o.headers,
          traceparent: `00-${(i + 1).toString(16).padStart(32, 'c')}-00f067aa0ba902b7-01`,
        },
      });
      await sleep(step.settleMs ?? 100);
      ups.push(seenUp.splice(0));
    }
    compared += ups[0]!.length;
    const [a, b] = ups.map((u) => JSON.stringify(u));
    console.log(
      `${a === b ? 'same' : 'DIFF'} ${step.name}: ${ups[0]!.length} / ${ups[1]!.length} upstream requests`,
    );
    if (a !== b) found.push(`${step.name}:\n    lean ${a}\n    long ${b}`);
  }
  console.log(`\nupstream requests compared: ${compared}; ${found.length} differences`);
  for (const f of found) console.log(`- ${f.slice(0, 4000)}`);
} finally {
  await pair.sim.clearFaults();
  await pair.stop();
  proxy.closeAllConnections();
  proxy.close();
  if (sinks !== undefined) await Promise.all([sinks.lean.close(), sinks.long.close()]);
}

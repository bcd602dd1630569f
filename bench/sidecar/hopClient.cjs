// The client of `make bench-sidecar`, run inside the team's agent container (`kubectl exec -c
// agent -- node -e <this file> ...`), so every way starts where an agent's calls start: the same
// Messages call, non-streaming,
//   direct    to the simulator's Service
//   proxy     through a bare node:http pass-through proxy on the pod's loopback (a process this
//             client starts: the cost of any proxy in the path, the baseline)
//   sidecar   through the runtime beside it on the pod's loopback, with the variables the
//             operator injected (ANTHROPIC_BASE_URL and the per-pod ANTHROPIC_API_KEY)
// One call at a time on keep-alive connections, the ways in turn, their order rotating each
// call, so all see the same moments of the machine. A warm-up round is dropped; each later round
// reports its own percentiles. Prints one JSON document.
//
//   node -e "$(cat hopClient.cjs)" <direct URL> <model> <calls per round> <rounds>
'use strict';

const { spawn } = require('node:child_process');
const { createInterface } = require('node:readline');

const [direct, model, perRound, roundCount] = process.argv.slice(1);
const calls = Number(perRound);
const rounds = Number(roundCount);
const body = JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

// The baseline, as bench/runtime/passThroughProxy.ts is for make bench-runtime: forwards method,
// path, headers and bytes both ways, upstream connections kept alive, nothing else.
const PROXY = `
const http = require('node:http');
const [host, port] = process.argv.slice(1);
const upstream = new http.Agent({ keepAlive: true });
const server = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => {
  const out = http.request({ host, port: Number(port), path: req.url, method: req.method,
    headers: req.headers, agent: upstream }, (up) => {
    res.writeHead(up.statusCode || 502, up.headers);
    up.pipe(res);
  });
  out.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(out);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

function startProxy(target) {
  const url = new URL(target);
  const child = spawn(process.execPath, ['-e', PROXY, url.hostname, url.port || '80'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    createInterface({ input: child.stdout }).once('line', (port) => {
      resolve({ child, url: `http://127.0.0.1:${port.trim()}` });
    });
  });
}

async function one([url, key]) {
  const started = performance.now();
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': key,
    },
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url} answered ${String(response.status)}`);
  return performance.now() - started;
}

const percentile = (sorted, q) => sorted[Math.floor(q * (sorted.length - 1))];

const ORDER = ['direct', 'proxy', 'sidecar'];

async function round(ways) {
  const took = { direct: [], proxy: [], sidecar: [] };
  for (let i = 0; i < calls; i++) {
    for (let k = 0; k < ORDER.length; k++) {
      const way = ORDER[(i + k) % ORDER.length];
      took[way].push(await one(ways[way]));
    }
  }
  const summary = {};
  for (const [way, samples] of Object.entries(took)) {
    const sorted = samples.sort((a, b) => a - b);
    summary[way] = {
      n: sorted.length,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
    };
  }
  return summary;
}

(async () => {
  const proxy = await startProxy(direct);
  try {
    const ways = {
      direct: [direct, 'sk-ant-direct'],
      proxy: [proxy.url, 'sk-ant-direct'],
      sidecar: [process.env.ANTHROPIC_BASE_URL, process.env.ANTHROPIC_API_KEY],
    };
    await round(ways); // warm-up: connections, JIT, the runtime's first calls
    const out = [];
    for (let r = 0; r < rounds; r++) out.push(await round(ways));
    console.log(JSON.stringify({ rounds: out }));
  } finally {
    proxy.child.kill();
  }
})().catch((err) => {
  console.error(String(err));
  process.exit(1);
});

/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 7: caller keys from a Secret among --manifests, rotated while the runtimes run. Two
 * runtimes (one with BREAKWATER_LEAN_ROUTE=off), each on its own copy of one AgentDeployment
 * (one backend: the simulator, no cache, audit, screen or budgets) and a client-keys Secret.
 * Calls with the old key, a new key, a wrong key, before and after the Secret is edited (the
 * old key dropped, a new one added), and while a slow call with the old key is in flight.
 *
 *   node attacks/lean-route/keys.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../../test/support/runtimeProcess.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import {
  call,
  plain,
  PRIMARY_MODEL,
  sleep,
  snapshot,
  snapshotDiffs,
  type Seen,
} from './harness.ts';

const sim = await startSimulator({ seed: 61 });
const agent = (url: string) => `apiVersion: breakwater.dev/v1alpha1
kind: AgentDeployment
metadata:
  name: keyed
spec:
  model:
    name: ${PRIMARY_MODEL}
    maxTokens: 64
  provider:
    baseURL: ${url}
    apiKeySecretRef:
      name: provider-key
      key: api-key
  access:
    clientKeysSecretRef:
      name: keyed-client-keys
  retry:
    maxAttempts: 2
---
apiVersion: v1
kind: Secret
metadata:
  name: provider-key
type: Opaque
stringData:
  api-key: sk-attack
`;
const keys = (entries: Record<string, string>) => `apiVersion: v1
kind: Secret
metadata:
  name: keyed-client-keys
type: Opaque
stringData:
${Object.entries(entries)
  .map(([k, v]) => `  ${k}: ${v}`)
  .join('\n')}
`;
const OLD = 'bk-old-key-0123456789abcdef0123';
const NEW = 'bk-new-key-0123456789abcdef0123';
const dirs = {
  lean: mkdtempSync(join(tmpdir(), 'bw-att61-keys-')),
  long: mkdtempSync(join(tmpdir(), 'bw-att61-keys-')),
};
for (const d of Object.values(dirs)) {
  writeFileSync(join(d, 'agent.yaml'), agent(sim.url));
  writeFileSync(join(d, 'keys.yaml'), keys({ a: OLD }));
}
const start = (lean: boolean) =>
  startRuntime(
    ['--manifests', lean ? dirs.lean : dirs.long, '--log-level', 'warn'],
    lean ? {} : { BREAKWATER_LEAN_ROUTE: 'off' },
  );
const rts = { lean: await start(true), long: await start(false) };
const out: Record<string, string[]> = { lean: [], long: [] };
const view = (s: Seen) => JSON.stringify(s);
const pollsRefused = { lean: 0, long: 0 };
try {
  for (const way of ['lean', 'long'] as const) {
    const rt = rts[way];
    const o = out[way]!;
    o.push(
      `route ${JSON.stringify(((await rt.debug('/debug/policy')) as { messagesRoute?: unknown }).messagesRoute)}`,
    );
    o.push(`old key: ${view(await call(rt, { key: OLD, body: plain('Hi') }))}`);
    o.push(`new key before: ${view(await call(rt, { key: NEW, body: plain('Hi') }))}`);
    await sim.setFault({ latencyMs: 1500, count: 1 });
    const inflight = call(rt, { key: OLD, body: plain('Slow') });
    await sleep(200);
    writeFileSync(join(dirs[way], 'keys.yaml'), keys({ b: NEW }));
    let rotated = false;
    let refused = 0;
    for (let i = 0; i < 100 && !rotated; i++) {
      await sleep(50);
      rotated = (await call(rt, { key: NEW, path: '/v1/models', method: 'GET' })).status === 200;
      if (!rotated) refused += 1;
    }
    o.push(`rotated: ${rotated}`);
    // The polls refused before the edit was seen count as invalid keys: timing, not the route.
    pollsRefused[way] = refused;
    o.push(`old key in flight across the rotation: ${view(await inflight)}`);
    o.push(`old key after: ${view(await call(rt, { key: OLD, body: plain('Hi') }))}`);
    o.push(`new key after: ${view(await call(rt, { key: NEW, body: plain('Hi') }))}`);
    o.push(
      `new key stream after: ${view(await call(rt, { key: NEW, body: plain('Hi', { stream: true }) }))}`.replace(
        /data: [^\n]*/g,
        '',
      ),
    );
    o.push(`wrong key: ${view(await call(rt, { key: 'bk-wrong', body: plain('Hi') }))}`);
    o.push(
      `route ${JSON.stringify(((await rt.debug('/debug/policy')) as { messagesRoute?: unknown }).messagesRoute)}`,
    );
  }
  await sleep(500);
  const found: string[] = [];
  out['lean']!.forEach((l, i) => {
    if (l !== out['long']![i] && !l.startsWith('route'))
      found.push(`\n    lean ${l}\n    long ${out['long']![i]}`);
  });
  found.push(...snapshotDiffs(await snapshot(rts.lean), await snapshot(rts.long)));
  for (const l of out['lean']!) console.log(`  . ${l.slice(0, 240)}`);
  for (const l of out['long']!.filter((x) => x.startsWith('route'))) console.log(`  long ${l}`);
  console.log(
    `polls refused before the rotation was seen: lean ${pollsRefused.lean}, long ${pollsRefused.long} (agent_auth_failures_total{reason="invalid"} differs by that much and no more)`,
  );
  console.log(`${found.length} differences`);
  for (const f of found) console.log(`- ${f.slice(0, 2000)}`);
} finally {
  await Promise.all([rts.lean.stop(), rts.long.stop()]);
  await sim.stop();
}

/* eslint-disable @typescript-eslint/no-non-null-assertion -- an attack script: every ! reads back an entry the script itself has just put there */
/**
 * Attack 8: SIGTERM with calls in flight. Each runtime (lean, then long) gets a slow plain call
 * and a slow stream, then SIGTERM; a call inside the drain delay, a call after it, and the two
 * slow calls' answers are compared, with the exit code.
 *
 *   node attacks/lean-route/drain.ts
 */
import { startRuntime } from '../../test/support/runtimeProcess.ts';
import { basePolicy, call, KEY, plain, sleep, type Seen } from './harness.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const sim = await startSimulator({ seed: 61, firstTokenMs: 40, eventGapMs: 30 });
const file = join(mkdtempSync(join(tmpdir(), 'bw-att61-drain-')), 'policy.json');
writeFileSync(file, JSON.stringify(basePolicy(sim.url)));
const view = (s: Seen) =>
  JSON.stringify({
    ...s,
    body: s.body.startsWith('event:')
      ? s.body
          .split('\n')
          .filter((l) => l.startsWith('event:'))
          .join(',')
      : s.body,
  });
const out: Record<string, string[]> = {};
try {
  for (const way of ['lean', 'long'] as const) {
    const rt = await startRuntime(
      [
        '--policy',
        file,
        '--log-level',
        'warn',
        '--drain-delay-ms',
        '600',
        '--shutdown-grace-ms',
        '5000',
      ],
      {
        ANTHROPIC_API_KEY: 'sk-attack',
        BREAKWATER_CLIENT_KEYS: KEY,
        ...(way === 'long' ? { BREAKWATER_LEAN_ROUTE: 'off' } : {}),
      },
    );
    await sim.setFault({ latencyMs: 1500, count: 2 });
    const slow = call(rt, { body: plain('Slow') });
    const slowStream = call(rt, { body: plain('Slow stream', { stream: true, max_tokens: 60 }) });
    await sleep(200);
    rt.child.kill('SIGTERM');
    await sleep(150);
    const inDrain = await call(rt, { body: plain('In the drain') });
    await sleep(700);
    const afterDrain = await call(rt, { body: plain('After the drain') });
    const code = await rt.exited;
    out[way] = [
      `in flight: ${view(await slow)}`,
      `stream in flight: ${view(await slowStream)}`,
      `inside the drain: ${view(inDrain)}`,
      `after the drain: ${view(afterDrain)}`,
      `exit ${code}`,
    ];
    await sim.clearFaults();
  }
  let diffs = 0;
  out['lean']!.forEach((l, i) => {
    const same = l === out['long']![i];
    if (!same) diffs += 1;
    console.log(
      `${same ? 'same' : 'DIFF'} ${l.slice(0, 200)}${same ? '' : `\n     long ${out['long']![i]}`}`,
    );
  });
  console.log(`${diffs} differences`);
} finally {
  await sim.stop();
}

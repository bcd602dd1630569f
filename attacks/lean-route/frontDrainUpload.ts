/**
 * SIGTERM with a request whose body is still coming, as a user starts the runtime
 * (`--drain-delay-ms 600 --shutdown-grace-ms 5000`), lean and long: the rest of the body sent
 * inside the drain delay, just after it, and well after it (within the grace), beside a slow
 * call in flight that keeps the runtime up through the grace, and with nothing else in flight.
 *
 *   node attacks/lean-route/frontDrainUpload.ts
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRuntime } from '../../test/support/runtimeProcess.ts';
import { startSimulator } from '../../test/support/simulator.ts';
import { basePolicy, call, KEY } from './harness.ts';
import { BODY, head, raw } from './frontRaw.ts';

const sim = await startSimulator({ seed: 61 });
const file = join(mkdtempSync(join(tmpdir(), 'bw-att63-drain-')), 'policy.json');
writeFileSync(file, JSON.stringify(basePolicy(sim.url)));
const half = Math.floor(BODY.length / 2);
const results: string[] = [];
try {
  for (const way of ['lean', 'long'] as const) {
    for (const [withSlow, restAfterMs] of [
      [true, 300],
      [true, 900],
      [true, 2000],
      [false, 300],
      [false, 900],
    ] as const) {
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
      // A slow call in flight: the runtime stays up for it, about 3 s past the SIGTERM.
      if (withSlow) await sim.setFault({ latencyMs: 3500, count: 1 });
      else await sim.clearFaults();
      const slow = withSlow
        ? call(rt, {
            body: {
              model: 'claude-sonnet-5-5',
              max_tokens: 8,
              messages: [{ role: 'user', content: 'Slow' }],
            },
          })
        : Promise.resolve({ status: 'none' });
      await sleep(200);
      const p = new URL(rt.url).port;
      const upload = raw(rt.url, {
        parts: [
          head(p, ['Content-Type: application/json'], BODY.length) + BODY.slice(0, half),
          100 + restAfterMs,
          BODY.slice(half),
        ],
        then: 'wait',
        idleMs: 2500,
      });
      await sleep(100);
      const sent = performance.now();
      rt.child.kill('SIGTERM');
      const [u, s] = await Promise.all([upload, slow]);
      const code = await rt.exited;
      const line = `${way} rest ${String(restAfterMs)} ms after SIGTERM: upload -> ${u.split('\n')[0] ?? ''} ${u.split('\n').at(-1) ?? ''}; slow call ${String(s.status)}; exit ${String(code)} after ${String(Math.round(performance.now() - sent))} ms`;
      console.log(line);
      results.push(line);
    }
  }
} finally {
  await sim.stop();
}

/**
 * `make up` and `make down` in the port-forward reach (demo/reach.ts; issue 52 item 4): the path
 * a user who is not root, or on macOS, takes. This machine's routes to kind's pod and Service
 * networks are taken away for the test (and put back after), so the only way to the pods is the
 * one the demo's code makes: `kubectl port-forward` per pod (demo/portForwards.ts). `make up`'s
 * next steps must print loopback addresses at which each agent pod answers a call and serves its
 * metrics, and `make down` must leave no forward behind.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { demoLayout, DEMO_NAMESPACE, REPLICAS } from '../../demo/demoLayout.ts';
import { readState } from '../../demo/demoState.ts';
import { parseResultLine } from '../../demo/summary.ts';
import { waitFor } from '../support/waitFor.ts';
import { kindClusterName } from '../../tools/kindNode/kindCluster.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SUBNETS = ['10.244.0.0/16', '10.96.0.0/16'];
const RUN_TIMEOUT_MS = 6 * 60_000;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runScript(
  script: string,
  extraEnv: Record<string, string>,
  args: readonly string[] = [],
): Promise<Run> {
  // Never the real API from a test, whatever the developer's shell holds.
  const { ANTHROPIC_API_KEY: _key, BREAKWATER_REACH: _reach, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', script, ...args], {
      cwd: repoRoot,
      env: { ...env, CI: '1', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

function routeTo(subnet: string): string {
  return execFileSync('ip', ['route', 'show', subnet], { encoding: 'utf8' }).trim();
}

/** kubectl port-forward processes into the demo's namespace. */
function forwards(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes('port-forward') && cmdline.includes(DEMO_NAMESPACE)) {
        found.push(`${pid} ${cmdline.join(' ')}`);
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** What `make up` printed, and the pods at the addresses it printed. */
async function checkUp(up: Run, reused = false): Promise<void> {
  expect(up.code).toBe(0);
  // The reach is chosen when the environment starts; a reuse says it in the next steps only.
  if (!reused) {
    expect(up.stdout).toContain('▸ reach: port-forward (BREAKWATER_REACH=port-forward)');
  }
  expect(up.stdout).toContain('Reach: port-forward (BREAKWATER_REACH=port-forward)');

  // Next steps: `  # <pod>: http://127.0.0.1:<port> (metrics http://127.0.0.1:<port>/metrics)`
  const pods = [
    ...up.stdout.matchAll(
      /^ {2}# (\S+): (http:\/\/127\.0\.0\.1:\d+) \(metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)\)$/gm,
    ),
  ].map(([, name, url, metrics]) => ({ name, url, metrics }));
  expect(pods).toHaveLength(REPLICAS);
  for (const pod of pods) {
    const answer = await fetch(`${pod.url ?? ''}/v1/agent/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'hello' }),
      signal: AbortSignal.timeout(30_000),
    });
    expect({ pod: pod.name, status: answer.status }).toEqual({ pod: pod.name, status: 200 });
    const metrics = await fetch(pod.metrics ?? '', { signal: AbortSignal.timeout(30_000) });
    expect({ pod: pod.name, status: metrics.status }).toEqual({ pod: pod.name, status: 200 });
    expect(await metrics.text()).toContain('circuit_breaker_state');
  }
  expect(forwards()).toHaveLength(REPLICAS);
}

// On the suites' kind cluster, as root (the routes are taken away and put back).
const onNode =
  kindClusterName() !== undefined && existsSync('/proc/self') && process.geteuid?.() === 0;

const removed: string[] = [];
let upStarted = false;

beforeAll(() => {
  if (!onNode) return;
  for (const subnet of SUBNETS) {
    const route = routeTo(subnet);
    if (route === '') continue;
    removed.push(route);
    execFileSync('ip', ['route', 'del', subnet]);
  }
});

afterAll(async () => {
  if (upStarted && existsSync(demoLayout().stateFile)) {
    await runScript('demo/down.ts', {});
  }
  // The host as the suites had it: the routes the global setup made, back.
  for (const route of removed) execFileSync('ip', ['route', 'replace', ...route.split(/\s+/)]);
}, RUN_TIMEOUT_MS);

describe('make up in the port-forward reach, with no route to the pod network', () => {
  (onNode ? it : it.skip)(
    'reaches every agent pod and its metrics through kubectl port-forward, and make down ends the forwards',
    async () => {
      expect(SUBNETS.map(routeTo)).toEqual(['', '']);
      upStarted = true;
      const up = await runScript('demo/up.ts', { BREAKWATER_REACH: 'port-forward' });
      const context = `exit ${String(up.code)}\n--- stdout ---\n${up.stdout}\n--- stderr ---\n${up.stderr}`;
      if (up.code !== 0) process.stderr.write(`${context}\n`);
      try {
        await checkUp(up);
        // The forwarder dies (a laptop slept, a kill): `make up` again reuses the environment
        // and starts the forwards again, at addresses that answer.
        const forwarder = (await readState(demoLayout().stateFile))?.processes['port-forwards'];
        expect(forwarder).toBeDefined();
        process.kill(-(forwarder?.pid ?? 0), 'SIGKILL');
        await waitFor(() => forwards().length === 0, {
          description: 'the killed forwards gone',
          timeoutMs: 30_000,
        });
        const again = await runScript('demo/up.ts', { BREAKWATER_REACH: 'port-forward' });
        expect(again.stdout).toContain('the demo environment is already up; reusing it');
        expect(again.stdout).toContain('the port-forwards had stopped; starting them again');
        await checkUp(again, true);
      } finally {
        // The next test finds no environment of this one's, whichever way this one went.
        if (existsSync(demoLayout().stateFile)) {
          const down = await runScript('demo/down.ts', {});
          expect(down.code).toBe(0);
          expect(down.stdout).toContain("stopped the agent pods' kubectl port-forwards");
        }
      }
      expect(forwards()).toEqual([]);
      expect(existsSync(demoLayout().stateFile)).toBe(false);
      // Nothing of it made a route either.
      expect(SUBNETS.map(routeTo)).toEqual(['', '']);
    },
    RUN_TIMEOUT_MS,
  );

  (onNode ? it : it.skip)(
    'runs make demo through the forwards: no request lost, the breaker tripped, nothing left running',
    async () => {
      expect(SUBNETS.map(routeTo)).toEqual(['', '']);
      upStarted = true;
      const run = await runScript('demo/demo.ts', { BREAKWATER_REACH: 'port-forward' }, [
        '--quick',
      ]);
      const context = `exit ${String(run.code)}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
      const result = parseResultLine(run.stdout.trimEnd().split('\n').at(-1) ?? '');
      const verdict = {
        exitedZero: run.code === 0,
        saidTheReach: run.stdout.includes('▸ reach: port-forward (BREAKWATER_REACH=port-forward)'),
        summaryNamedLoopback:
          /reach: port-forward: the pods were called through kubectl port-forward on this machine \(no host route\): \S+ http:\/\/127\.0\.0\.1:\d+/.test(
            run.stdout,
          ),
        lostNone: result?.lost === 0,
        tripped: (result?.trips ?? 0) >= 1,
      };
      if (!Object.values(verdict).every(Boolean)) process.stderr.write(`${context}\n`);
      expect(verdict).toEqual({
        exitedZero: true,
        saidTheReach: true,
        summaryNamedLoopback: true,
        lostNone: true,
        tripped: true,
      });
      expect(forwards()).toEqual([]);
      expect(existsSync(demoLayout().stateFile)).toBe(false);
    },
    RUN_TIMEOUT_MS,
  );
});

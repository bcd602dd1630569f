/**
 * `make demo`, as a newcomer runs it, without a terminal: the whole scenario against the
 * cluster the suites run on (phases shortened with --quick), judged by its last line, and then the
 * check that it left nothing running.
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { demoLayout, DEMO_NAMESPACE } from '../../demo/demoLayout.ts';
import { parseResultLine } from '../../demo/summary.ts';
import { markerVariable } from '../../tools/cluster/supervisor.ts';
import { kindClusterName } from '../../tools/kindNode/kindCluster.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const DEMO_TIMEOUT_MS = 6 * 60_000;
const OPEN_BREAKER_OUTPUT =
  /\$ kubectl get cbp -n breakwater-demo\n\s+NAME\s+STATE\s+OPEN.*\n\s+demo-breaker\s+Open\s+3\/3/;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runDemo(): Promise<Run> {
  // Never the real API from a test, whatever the developer's shell holds.
  const { ANTHROPIC_API_KEY: _key, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--no-warnings=ExperimentalWarning', 'demo/demo.ts', '--quick'],
      { cwd: repoRoot, env: { ...env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGINT');
    }, DEMO_TIMEOUT_MS - 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Processes whose command line or environment ties them to the demo. */
function demoProcesses(): string[] {
  const marker = `${markerVariable}=${demoLayout().dir}\0`;
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.includes(marker) || cmdline.includes(`--namespace=${DEMO_NAMESPACE}`)) {
        found.push(`${pid} ${cmdline}`);
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

// The demo runs its agent on kind's node and reaches each pod at its address (routed from this
// machine); it finds the suites' cluster running (BREAKWATER_KIND_CLUSTER) and leaves it up.
// Against another cluster (BREAKWATER_KUBECONFIG) it would bring up a kind cluster of its own.
const onNode = kindClusterName() !== undefined && existsSync('/proc/self');

describe('make demo', () => {
  (onNode ? it : it.skip)(
    'trips the breaker, serves from the fallback, loses no request, reloads the policy within a second, and cleans up',
    async () => {
      const run = await runDemo();
      const lines = run.stdout.trimEnd().split('\n');
      const last = lines.at(-1) ?? '';
      const context = `exit ${String(run.code)}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;

      const result = parseResultLine(last);
      const verdict = {
        lastLineIsTheResult: result !== undefined,
        tripped: (result?.trips ?? 0) >= 1,
        lostNone: result?.lost === 0,
        reloadedWithinASecond: (result?.reloadMs ?? Infinity) < 1000,
        failedFast: (result?.failedFast ?? 0) > 0,
        // With the primary model down, the fallback model answered agent requests.
        fallbackServed: /the fallback model \S+ served [1-9]\d* agent requests?/.test(run.stdout),
        rejectedOnTheNewLimit: (result?.rejected ?? 0) > 0,
        // The real kubectl output of the moment the breaker opened.
        showedTheOpenBreaker: OPEN_BREAKER_OUTPUT.test(run.stdout),
        exitedZero: run.code === 0,
      };
      if (!Object.values(verdict).every(Boolean)) process.stderr.write(`${context}\n`);
      expect({ last, ...verdict }).toEqual({
        last,
        lastLineIsTheResult: true,
        tripped: true,
        lostNone: true,
        reloadedWithinASecond: true,
        failedFast: true,
        fallbackServed: true,
        rejectedOnTheNewLimit: true,
        showedTheOpenBreaker: true,
        exitedZero: true,
      });

      expect(existsSync(demoLayout().stateFile)).toBe(false);
      expect(demoProcesses()).toEqual([]);
    },
    DEMO_TIMEOUT_MS,
  );
});

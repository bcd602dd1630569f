/**
 * Fills Node's compile cache for the runtime's start-up, at image build time (Dockerfile, the
 * `warm` stage): starts the program it is given (the image's `breakwater-runtime` launcher) on
 * a policy for the Anthropic API, waits for /health/ready, stops it with SIGTERM and checks
 * that it exited 0. The runtime, run with NODE_COMPILE_CACHE set, writes the V8 code of every
 * file it compiled into that directory as it exits; the image ships the directory read-only
 * and sets NODE_COMPILE_CACHE to it, so each runtime container reads its code from there
 * instead of compiling it again (NODE_DISABLE_COMPILE_CACHE=1 turns that off).
 *
 * Why: Node keeps each entry it read in memory for the life of the process. For the ~780
 * files the runtime loaded before its bundle, that was 4.7 MB for ready in 0.74 of the time;
 * for the bundle's files (tools/build/bundlePrograms.ts) it is 0.9 MB (make bench-image has the
 * figures). Node keys its cache by version, V8 flags and user id, so the build runs this as
 * the image's user (65532) with no NODE_OPTIONS, as the operator starts the runtime. A
 * container that differs (another uid, other flags) misses the cache and compiles as before;
 * the cache is only read, and a failed write of new entries at exit is silent.
 *
 *   node compileCacheWarmup.js <program> [args...]
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { resolvePolicy } from '../../contract/src/policy/policyResolution.ts';

/** How long the runtime may take to be ready on a busy build machine. */
const READY_WITHIN_MS = 120_000;

/**
 * What the operator resolves for an agent on the Anthropic API with every default (no policy
 * referenced): what most runtimes start on, so their start-up finds its files in the cache.
 */
export function warmupPolicy(): PolicyDocument {
  return resolvePolicy({
    agent: {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: { namespace: 'default', name: 'compile-cache', generation: 1 },
      spec: {
        model: { name: 'claude-sonnet-4-5' },
        provider: { apiKeySecretRef: { name: 'anthropic', key: 'api-key' } },
      },
    },
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function ready(url: string, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline && !exited()) {
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(50);
  }
  throw new Error(
    exited()
      ? 'the runtime exited before it was ready'
      : `not ready within ${String(READY_WITHIN_MS)} ms`,
  );
}

/**
 * Node writes its entries for its user alone (0600); the image copies them owned by root, so
 * each is made readable by all (and the directories listable), and writable by none.
 */
function readOnlyForAll(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) readOnlyForAll(path);
    else chmodSync(path, 0o444);
  }
  chmodSync(dir, 0o555);
}

async function main(argv: readonly string[]): Promise<void> {
  const [program, ...args] = argv;
  if (program === undefined) throw new Error('usage: compileCacheWarmup.js <program> [args...]');
  const cache = process.env['NODE_COMPILE_CACHE'];
  if (cache === undefined)
    throw new Error('NODE_COMPILE_CACHE is unset: the runtime would write no cache');
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-warmup-'));
  try {
    const policy = join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify(warmupPolicy()));
    const [port, metricsPort] = [await freePort(), await freePort()];
    const child = spawn(
      program,
      [
        ...args,
        `--policy=${policy}`,
        `--port=${String(port)}`,
        `--metrics-port=${String(metricsPort)}`,
      ],
      {
        env: { ...process.env, ANTHROPIC_API_KEY: 'sk-compile-cache-warmup-not-a-key' },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const exit = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const started = performance.now();
    await ready(`http://127.0.0.1:${String(port)}/health/ready`, () => child.exitCode !== null);
    const readyMs = Math.round(performance.now() - started);
    child.kill('SIGTERM');
    const code = await exit;
    if (code !== 0) throw new Error(`the runtime exited ${String(code)} on SIGTERM`);
    readOnlyForAll(cache);
    process.stderr.write(
      `compile cache: the runtime was ready in ${String(readyMs)} ms; its code is in ${cache}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main)
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(
      `compile cache warm-up failed: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });

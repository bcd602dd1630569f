/**
 * The image's compile cache (Dockerfile, `warm` stage; runtime/src/compileCacheWarmup.ts), on
 * the image the suite built and loaded into kind (BREAKWATER_CHART_IMAGE), with the runtime
 * started in a container as the bench and the local node run it (read-only root, no
 * capabilities, the image's user) and Node's own compile-cache log on: by default the runtime
 * finds the V8 code of every file it compiles before it is ready there; turned off
 * (NODE_DISABLE_COMPILE_CACHE=1) it reads none; and one started as another user (whose entries
 * Node would keep elsewhere) still starts, compiling as before.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { warmupPolicy } from '../../runtime/src/compileCacheWarmup.ts';
import { freePort } from '../support/podReach.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(180_000);

const run = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;
const image = process.env['BREAKWATER_CHART_IMAGE'];
const policyDir = mkdtempSync(join(tmpdir(), 'bw-compile-cache-'));
chmodSync(policyDir, 0o755);
writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(warmupPolicy()), { mode: 0o644 });

afterAll(() => {
  rmSync(policyDir, { recursive: true, force: true });
});

async function tool(): Promise<string[]> {
  const { stdout } = await run(join(repo, 'scripts/image/container-tool.sh'));
  return stdout.trim() === 'podman' ? [join(repo, 'scripts/image/podman.sh')] : ['docker'];
}

interface CacheLog {
  /** Modules whose code was found in the cache and taken. */
  readonly accepted: number;
  /** Modules compiled without an entry, or whose entry V8 rejected: what the log names. */
  readonly missed: string[];
  readonly log: string;
}

/** Starts the runtime in a container until ready, stops it, and reads Node's cache log. */
async function startOnce(options: { cache: boolean; user?: string }): Promise<CacheLog> {
  const { cache, user } = options;
  const [cli = 'docker', ...pre] = await tool();
  const [http, metrics] = [await freePort(), await freePort()];
  const name = `bw-compile-cache-${String(process.pid)}-${user?.replace(':', '-') ?? 'image'}-${cache ? 'on' : 'off'}`;
  await run(cli, [...pre, 'rm', '--force', '--ignore', name]).catch(() => undefined);
  await run(cli, [
    ...pre,
    'run',
    '--detach',
    `--name=${name}`,
    '--pull=never',
    '--network=host',
    '--read-only',
    '--cap-drop=ALL',
    '--security-opt=no-new-privileges',
    ...(user === undefined ? [] : [`--user=${user}`]),
    '--env=NODE_DEBUG_NATIVE=COMPILE_CACHE',
    ...(cache ? [] : ['--env=NODE_DISABLE_COMPILE_CACHE=1']),
    '--env=ANTHROPIC_API_KEY=sk-test-not-a-key',
    `--volume=${policyDir}:/policy:ro`,
    '--entrypoint=breakwater-runtime',
    image ?? '',
    '--policy=/policy/policy.json',
    `--port=${String(http)}`,
    `--metrics-port=${String(metrics)}`,
  ]);
  try {
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${String(http)}/health/ready`).catch(() => undefined))
          ?.status === 200,
      { description: 'the runtime in its container ready', timeoutMs: 120_000, intervalMs: 50 },
    );
    await run(cli, [...pre, 'stop', '--time=30', name]);
    const { stdout: code } = await run(cli, [
      ...pre,
      'inspect',
      '--format={{.State.ExitCode}}',
      name,
    ]);
    expect(code.trim()).toBe('0');
    const { stdout, stderr } = await run(cli, [...pre, 'logs', name], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const log = stdout + stderr;
    const lines = log.split('\n').filter((l) => l.startsWith('[compile cache] V8 code cache'));
    return {
      accepted: lines.filter((l) => l.endsWith('was accepted, keeping the in-memory entry')).length,
      missed: lines
        .filter((l) => !l.endsWith('was accepted, keeping the in-memory entry'))
        .map((l) => l.replace('[compile cache] V8 code cache for ', '')),
      log,
    };
  } finally {
    await run(cli, [...pre, 'rm', '--force', '--ignore', name]).catch(() => undefined);
  }
}

(image === undefined ? describe.skip : describe)('the image compile cache', () => {
  it('has the code of every file the runtime compiles before it is ready', async () => {
    const { accepted, missed, log } = await startOnce({ cache: true });
    expect({ missed, cacheRead: log.includes('/app/compile-cache') }).toEqual({
      missed: [],
      cacheRead: true,
    });
    // The bundle's files the runtime loads before it is ready (14 in 2026-11), all found.
    expect(accepted).toBeGreaterThan(0);
  });

  it('is read by none when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    const { accepted, log } = await startOnce({ cache: false });
    expect({ accepted, disabled: log.includes('Disabled by NODE_DISABLE_COMPILE_CACHE') }).toEqual({
      accepted: 0,
      disabled: true,
    });
  });

  it('leaves a container of another user to compile as before, and to start', async () => {
    // Its cache directory (…-65534) is not in the image and the root is read-only: Node says
    // it cannot create it and compiles without a cache. startOnce checked it was ready, exit 0.
    const { accepted, log } = await startOnce({ cache: true, user: '65534:65534' });
    expect({ accepted, cacheOff: log.includes('Cannot create cache directory') }).toEqual({
      accepted: 0,
      cacheOff: true,
    });
  });
});

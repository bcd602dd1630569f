/**
 * The runtime on `--manifests`: the YAML in config/samples as the README runs it (one
 * AgentDeployment of several picked with --agent, the provider key and the client keys from
 * the sample Secrets), and an edit of a policy on disk reaching the running process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import {
  copySamples,
  SAMPLE_CLIENT_KEY,
  SAMPLE_PROVIDER_KEY,
  type SampleManifests,
} from '../support/sampleManifests.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import { waitFor } from '../support/waitFor.ts';

interface PolicyStatus {
  hash?: string;
  rejected: number;
  lastError?: { error: string };
  document?: { rateLimit: { requests?: { replicaPerSecond: number } } };
}

let sim: SimulatorHandle;
let samples: SampleManifests;
let dir: string;
let runtime: RuntimeHandle | undefined;

async function run(agent: string): Promise<RuntimeHandle> {
  runtime = await startRuntime(['--manifests', dir, '--agent', agent, '--log-level', 'info']);
  return runtime;
}

const ask = (rt: RuntimeHandle, key = 'unused') =>
  new Anthropic({ baseURL: rt.url, apiKey: key, maxRetries: 0 }).messages.create({
    model: FALLBACK_MODEL,
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hello' }],
  });

beforeAll(async () => {
  sim = await startSimulator({ seed: 3, apiKey: SAMPLE_PROVIDER_KEY });
  samples = copySamples(sim.url);
  dir = samples.dir;
});

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

afterAll(async () => {
  await sim.stop();
  samples.remove();
});

describe('--manifests config/samples --agent NAME', () => {
  it('serves the development agent with the provider key of the sample Secret', async () => {
    const rt = await run('assistant-development');
    const message = await ask(rt);
    expect(message.content[0]).toMatchObject({ type: 'text', text: 'You said: hello' });
    const status = (await rt.debug('/debug/policy')) as PolicyStatus;
    expect(status.rejected).toBe(0);
    expect(await rt.metrics()).toMatch(
      /breakwater_policy_reloads_total\{result="rejected",source="manifests"\} 0/,
    );
    // The line it says it listens with is a log line like every other.
    const listening = rt.output.find((line) => line.includes('"msg":"listening"'));
    expect(JSON.parse(listening ?? '{}')).toMatchObject({
      level: 'info',
      name: 'breakwater-runtime',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
      pid: rt.child.pid,
    });
  });

  it('holds the production agent to the client keys of the sample Secret it references', async () => {
    const rt = await run('assistant-production');
    const refused = await ask(rt, 'bw-not-a-key').catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 401 });
    const message = await ask(rt, SAMPLE_CLIENT_KEY);
    expect(message.type).toBe('message');
  });

  it('names the AgentDeployments there are when --agent names none of them, and is not ready', async () => {
    const rt = await run('assistant');
    const status = (await rt.debug('/debug/policy')) as PolicyStatus;
    expect(status.hash).toBeUndefined();
    expect(status.lastError?.error).toContain(
      'no AgentDeployment named "assistant"; it holds: assistant-development, assistant-production, assistant-providers',
    );
    expect((await fetch(`${rt.url}/health/ready`)).status).toBe(503);
  });
});

describe('a RateLimitPolicy edited on disk', () => {
  it('is in force in the running process, with a new hash in /debug/policy', async () => {
    const rt = await run('assistant-development');
    const before = (await rt.debug('/debug/policy')) as PolicyStatus;
    expect(before.document?.rateLimit.requests?.replicaPerSecond).toBe(5);
    const file = join(dir, 'ratelimitpolicy-development.yaml');
    const edited = readFileSync(file, 'utf8').replace('perSecond: 5', 'perSecond: 7');
    expect(edited).not.toBe(readFileSync(file, 'utf8'));

    const written = performance.now();
    writeFileSync(file, edited);
    const after = await waitFor(
      async () => {
        const now = (await rt.debug('/debug/policy')) as PolicyStatus;
        if (now.hash === before.hash) throw new Error(`the hash is still ${String(now.hash)}`);
        return now;
      },
      { timeoutMs: 10_000, intervalMs: 5, description: 'a new policy hash after the edit' },
    );
    const tookMs = Math.round(performance.now() - written);
    process.stderr.write(`manifest edit to new policy hash in /debug/policy: ${tookMs} ms\n`);

    expect(after.hash).not.toBe(before.hash);
    expect(after.document?.rateLimit.requests?.replicaPerSecond).toBe(7);
    // Generous: the issue asks for well under a second; this only catches a reload that hangs.
    expect(tookMs).toBeLessThan(5_000);
    expect(await rt.metrics()).toMatch(
      /breakwater_policy_reloads_total\{result="applied",source="manifests"\} 2/,
    );
  });
});

describe('a runtime whose port is taken', () => {
  it('exits 1 naming the flag, instead of lingering without serving', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const child = spawn(
        process.execPath,
        [
          fileURLToPath(new URL('../../runtime/src/main.ts', import.meta.url)),
          ...['--manifests', dir, '--agent', 'assistant-development'],
          ...['--host', '127.0.0.1', '--port', String(port), '--metrics-port', '0'],
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => {
        // A runtime that lingers fails here, not at jest's timeout.
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
        }, 30_000);
        child.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      expect(stderr).toContain(
        `cannot listen on 127.0.0.1:${String(port)} (--port): another process listens there`,
      );
      expect(code).toBe(1);
    } finally {
      taken.close();
    }
  });
});

describe('a runtime stopping', () => {
  it('drains and exits 0 on a SIGTERM sent the moment it says it listens', async () => {
    // It said so before it handled SIGTERM: a reader quick enough killed it undrained, one
    // start in five or so on two busy cores. Fifteen starts make such a race show.
    const codes: (number | null)[] = [];
    for (let i = 0; i < 15; i++) {
      const rt = await startRuntime(['--manifests', dir, '--agent', 'assistant-development']);
      rt.child.kill('SIGTERM');
      codes.push(await rt.exited);
    }
    expect(codes).toEqual(codes.map(() => 0));
  });

  it('exits on SIGTERM though a client never finishes sending its request', async () => {
    const rt = await startRuntime([
      ...['--manifests', dir, '--agent', 'assistant-development'],
      ...['--shutdown-grace-ms', '500'],
    ]);
    const socket = connect(Number(new URL(rt.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    // A head and the start of a body that will never be completed.
    socket.write(
      'POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"model"',
    );
    const exited = new Promise<number | null>((resolve) => rt.child.once('exit', resolve));
    rt.child.kill('SIGTERM');
    // A runtime held open by the connection fails here, not at jest's timeout.
    const timer = setTimeout(() => rt.child.kill('SIGKILL'), 30_000);
    try {
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(timer);
      socket.destroy();
    }
  });
});

describe('the Secrets a runtime writes for its manifests', () => {
  it('go with it on SIGTERM, and with the next start after a SIGKILL', async () => {
    // The production sample names a client-keys Secret: its keys are written out.
    const parent = mkdtempSync(join(tmpdir(), 'bw-manifest-tmp-'));
    const start = () =>
      startRuntime(['--manifests', dir, '--agent', 'assistant-production'], { TMPDIR: parent });
    const written = () => readdirSync(parent).filter((name) => name.startsWith('breakwater-'));
    try {
      const stopped = await start();
      expect(written()).toHaveLength(1);
      expect(await stopped.stop()).toBe(0);
      expect(written()).toEqual([]);

      const killed = await start();
      const left = written();
      expect(left).toHaveLength(1);
      killed.child.kill('SIGKILL');
      await killed.exited;
      expect(written()).toEqual(left);

      runtime = await start();
      const now = written();
      expect(now).toHaveLength(1);
      expect(now).not.toEqual(left);
    } finally {
      await runtime?.stop();
      runtime = undefined;
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('a manifest with a field kubectl would refuse', () => {
  /**
   * Writes `edit` of the sample `name` while the runtime runs: the policy status once the edit
   * was refused, the last good policy's hash, and the file; the sample is put back after.
   */
  async function refusedEdit(
    rt: RuntimeHandle,
    name: string,
    edit: (original: string) => string,
    check: (status: PolicyStatus, good: PolicyStatus, file: string) => Promise<void>,
  ): Promise<void> {
    const good = (await rt.debug('/debug/policy')) as PolicyStatus;
    const file = join(dir, name);
    const original = readFileSync(file, 'utf8');
    const edited = edit(original);
    expect(edited).not.toBe(original);
    writeFileSync(file, edited);
    try {
      const status = await waitFor(
        async () => {
          const now = (await rt.debug('/debug/policy')) as PolicyStatus;
          if (now.rejected === 0)
            throw new Error(`nothing rejected yet (hash ${String(now.hash)})`);
          return now;
        },
        { timeoutMs: 5_000, intervalMs: 10, description: `the edit of ${name} to be refused` },
      );
      await check(status, good, file);
    } finally {
      writeFileSync(file, original);
    }
  }

  it('is refused naming the field when a dollar amount is a YAML number, never read as micro-dollars', async () => {
    const rt = await run('assistant-development');
    await refusedEdit(
      rt,
      'ratelimitpolicy-development.yaml',
      (original) =>
        original.replace(
          '  mode: Enforce',
          '  mode: Enforce\n  budgets:\n    - name: daily\n      period: Day\n      usd: 5',
        ),
      async (status, good) => {
        expect(status.hash).toBe(good.hash);
        expect(status.lastError?.error).toContain(
          'RateLimitPolicy "development" in ' + join(dir, 'ratelimitpolicy-development.yaml'),
        );
        expect(status.lastError?.error).toContain(
          'spec.budgets[0].usd: Invalid value: "integer": spec.budgets[0].usd in body must be of type string',
        );
        expect((await ask(rt)).type).toBe('message');
      },
    );
  });

  it('is refused naming a missing field as the manifest spells it', async () => {
    const rt = await run('assistant-development');
    await refusedEdit(
      rt,
      'agentdeployment-development.yaml',
      (original) =>
        original.replace(
          '  timeout: 30s',
          '  timeout: 30s\n  pricing:\n    - model: claude-haiku-5-5\n      inputPerMTok: "1"\n      outputPerMTok: "5"\n      cacheWrite5mPerMTok: "1.25"\n      cacheWrite1hPerMTok: "2"',
        ),
      async (status, good) => {
        expect(status.hash).toBe(good.hash);
        expect(status.lastError?.error).toContain(
          'is invalid: spec.pricing[0].cacheReadPerMTok: Required value',
        );
        expect((await ask(rt)).type).toBe('message');
      },
    );
  });

  it('is refused naming the field when a tool URL carries a password, and never shows it', async () => {
    const rt = await run('assistant-development');
    await refusedEdit(
      rt,
      'agentdeployment-development.yaml',
      (original) =>
        original.replace(
          '  timeout: 30s',
          '  timeout: 30s\n  tools:\n    - name: lookup\n      description: Look an order up\n      inputSchema: {type: object}\n      url: http://tools:pw-never-shown@127.0.0.1:9/lookup',
        ),
      async (status, good) => {
        expect(status.hash).toBe(good.hash);
        expect(status.lastError?.error).toContain(
          'spec.tools[0].url: Invalid value: "http://redacted@127.0.0.1:9/lookup"',
        );
        expect(status.lastError?.error).not.toContain('pw-never-shown');
        expect(JSON.stringify(await rt.debug('/debug/policy'))).not.toContain('pw-never-shown');
        expect((await ask(rt)).type).toBe('message');
      },
    );
  });

  it('is refused naming the field, the file and the fix, and the last good policy stays', async () => {
    const rt = await run('assistant-development');
    await refusedEdit(
      rt,
      'circuitbreakerpolicy-development.yaml',
      (original) => original.replace('failureThreshold:', 'failureTreshold:'),
      async (status, good, file) => {
        expect(status.rejected).toBe(1);
        expect(status.hash).toBe(good.hash);
        expect(status.lastError?.error).toContain(
          `unknown field spec.failureTreshold (did you mean failureThreshold?)`,
        );
        expect(status.lastError?.error).toContain(file);
        // Still serving, on the last good policy.
        expect((await ask(rt)).type).toBe('message');
      },
    );
  });
});

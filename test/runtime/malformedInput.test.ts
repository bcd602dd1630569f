/**
 * Bad input, at scale: fast-check generates requests of many kinds of malformation and sends
 * them over raw sockets to one runtime process. Every answer must be a 4xx JSON error in the
 * Anthropic shape; where the client stops sending mid-request, a closed connection may be
 * all there is to answer, and the kind says so. The process stays up and its memory bounded.
 * Then random mutations of a valid policy are written to its `--policy` file: one that the
 * runtime's checks refuse never replaces the last good policy.
 *
 * Seeded and bounded, so every run sends the same requests: FC_SEED picks another seed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { renameSync, writeFileSync } from 'node:fs';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { parsePolicyDocument } from '../../contract/src/policy/policyValidation.ts';
import {
  kinds,
  message,
  mutation,
  notAnAnthropicError,
  type Json,
} from '../support/malformedRequests.ts';
import { exchange, residentBytes } from '../support/rawHttp.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const SEED = Number(process.env['FC_SEED'] ?? 20_261_122);
const MiB = 1024 * 1024;
/** What the process may grow by over the whole run, 9 MiB bodies included. */
const RSS_GROWTH_LIMIT = 150 * MiB;

let sim: SimulatorHandle;
let rt: StandaloneRuntime;
let port: number;
let rssBefore: number;

beforeAll(async () => {
  sim = await startSimulator({ seed: 11 });
  rt = await standaloneRuntime(policyDocument(sim.url));
  port = Number(new URL(rt.runtime.url).port);
  // Warm: the first requests load code that later ones only reuse.
  for (let i = 0; i < 5; i++) expect(await validCall()).toBe(200);
  rssBefore = await residentBytes(rt.runtime.child.pid ?? 0);
});

afterAll(async () => {
  await rt.stop();
  await sim.stop();
});

async function validCall(): Promise<number> {
  const response = await fetch(`${rt.runtime.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(message()),
  });
  await response.arrayBuffer();
  return response.status;
}

// ---- The checks --------------------------------------------------------------------------

describe('the runtime fed malformed requests over raw sockets', () => {
  it('is given at least fifty kinds of malformed request', () => {
    expect(kinds.length).toBeGreaterThanOrEqual(50);
    expect(new Set(kinds.map((k) => k.name)).size).toBe(kinds.length);
  });

  it.each(kinds.map((kind) => [kind.name, kind] as const))(
    'answers %s with a 4xx Anthropic error',
    async (_name, kind) => {
      await fc.assert(
        fc.asyncProperty(kind.parts, async (parts) => {
          const result = await exchange(port, parts, {
            endAfterWriting: kind.endAfterWriting ?? false,
          });
          const problems = result.responses.map(notAnAnthropicError).filter((p) => p !== undefined);
          expect(problems).toEqual([]);
          if (kind.expect === 'error') expect(result.responses.length).toBeGreaterThan(0);
          else if (result.responses.length === 0) expect(result.closedByServer).toBe(true);
        }),
        { seed: SEED, numRuns: kind.runs ?? 3, endOnFailure: true },
      );
    },
  );

  it('is still up afterwards, serves a valid call, and its memory stayed bounded', async () => {
    expect(rt.runtime.child.exitCode).toBeNull();
    expect(await validCall()).toBe(200);
    const rssAfter = await residentBytes(rt.runtime.child.pid ?? 0);
    process.stdout.write(
      `malformed input: ${String(kinds.length)} kinds; RSS ${String(Math.round(rssBefore / MiB))} MiB before, ` +
        `${String(Math.round(rssAfter / MiB))} MiB after\n`,
    );
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT);
  });
});

// ---- Policy file mutations ---------------------------------------------------------------

type Verdict = 'rejected' | 'applied' | 'unchanged';

/** What the runtime must do with `text`: refuse it, apply it (with its hash), or find it unchanged. */
function verdict(
  text: string,
  currentHash: string,
): { kind: 'rejected' } | { kind: Exclude<Verdict, 'rejected'>; hash: string } {
  const parsed = parsePolicyDocument(text);
  if (!parsed.ok) return { kind: 'rejected' };
  return { kind: parsed.hash === currentHash ? 'unchanged' : 'applied', hash: parsed.hash };
}

interface PolicyStatus {
  readonly hash: string;
}

describe('the runtime given mutated policy files', () => {
  it('never replaces the last good policy with one its checks refuse', async () => {
    const good = JSON.parse(JSON.stringify(policyDocument(sim.url))) as Json;
    const status = async () => (await rt.runtime.debug('/debug/policy')) as PolicyStatus;
    // Every read of the file counts as applied, unchanged or rejected: the event each write awaits.
    const offers = async (result: Verdict) =>
      sample(await rt.runtime.metrics(), 'breakwater_policy_reloads_total', {
        result,
        source: 'file',
      });
    // An atomic replace, as an editor or a ConfigMap volume does: the runtime never reads half a file.
    const write = (text: string) => {
      writeFileSync(`${rt.policyFile}.tmp`, text);
      renameSync(`${rt.policyFile}.tmp`, rt.policyFile);
    };
    rt.writePolicy(good as unknown as PolicyDocument);
    let lastGood = (await status()).hash;
    const seen = { rejected: 0, applied: 0, unchanged: 0 };
    await fc.assert(
      fc.asyncProperty(mutation(good), async (text) => {
        const expected = verdict(text, lastGood);
        const before = await offers(expected.kind);
        write(text);
        await waitFor(
          async () => {
            const counted = await offers(expected.kind);
            if (counted > before) return true;
            throw new Error(`${expected.kind} still counts ${String(counted)}`);
          },
          {
            timeoutMs: 5_000,
            intervalMs: 20,
            description: `the write counted as ${expected.kind}`,
          },
        );
        const now = await status();
        seen[expected.kind]++;
        if (expected.kind === 'rejected') {
          expect(now.hash).toBe(lastGood);
        } else {
          expect(now.hash).toBe(expected.hash);
          lastGood = now.hash;
        }
      }),
      { seed: SEED, numRuns: 60, endOnFailure: true },
    );
    process.stdout.write(
      `policy mutations: ${String(seen.rejected)} refused (hash kept), ${String(seen.applied)} valid and applied, ${String(seen.unchanged)} unchanged\n`,
    );
    expect(seen.rejected).toBeGreaterThan(30);
    expect(rt.runtime.child.exitCode).toBeNull();
  });
});

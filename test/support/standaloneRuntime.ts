/**
 * A runtime process on a policy file for tests that drive it through the SDK: a policy built
 * from the sample document with one backend (the simulator, or any URL), written to a
 * temporary directory, and small readers for the runtime's scrape.
 *
 *   const rt = await standaloneRuntime(policyDocument(sim.url, (d) => (d.retry.maxAttempts = 3)));
 *   ...
 *   expect(sample(await rt.runtime.metrics(), 'guard_retries_total')).toBeGreaterThan(0);
 *   await rt.stop();
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { startRuntime, type RuntimeHandle, type RuntimeStartOptions } from './runtimeProcess.ts';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

export { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';

/**
 * The sample policy with `baseURL` as its only backend, the primary model without fallbacks,
 * one attempt per call and a rate limit no test reaches unless it asks for one.
 */
export function policyDocument(
  baseURL: string,
  change: (doc: Mutable<PolicyDocument>) => void = () => undefined,
): PolicyDocument {
  const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
  doc.backends = [{ name: 'default', baseURL, apiKeyEnv: 'ANTHROPIC_API_KEY', weight: 1 }];
  doc.model = { name: PRIMARY_MODEL, fallbacks: [], maxTokens: 64 };
  doc.retry = { maxAttempts: 1, initialDelayMs: 10, maxDelayMs: 50 };
  doc.rateLimit = {
    ...doc.rateLimit,
    requests: { replicaPerSecond: 10_000, replicaBurst: 10_000 },
  };
  change(doc);
  return doc;
}

export interface StandaloneRuntime {
  readonly runtime: RuntimeHandle;
  readonly policyFile: string;
  /** Replaces the policy file; the runtime picks the change up by itself. */
  writePolicy(doc: PolicyDocument): void;
  /** Stops the process and removes the directory. */
  stop(): Promise<void>;
}

/** `args`: further runtime flags (`--prompt-cache-ttl-ms`), after the policy's. */
export async function standaloneRuntime(
  doc: PolicyDocument,
  env: Readonly<Record<string, string>> = {},
  options: RuntimeStartOptions = {},
): Promise<StandaloneRuntime> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-standalone-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(doc));
  try {
    const runtime = await startRuntime(
      ['--policy', policyFile, '--log-level', 'info'],
      { ANTHROPIC_API_KEY: 'sk-test-standalone-provider-key', ...env },
      options,
    );
    return {
      runtime,
      policyFile,
      writePolicy: (next) => {
        writeFileSync(policyFile, JSON.stringify(next));
      },
      stop: async () => {
        await runtime.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The sum of a scrape's samples of `family` whose labels include every `labels` pair
 * (`{}`: all of them); 0 when there are none.
 */
export function sample(
  exposition: string,
  family: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== family) continue;
    const present = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => present.get(k) === v)) sum += Number(match[3]);
  }
  return sum;
}

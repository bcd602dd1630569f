/**
 * The backends the cache-affinity suites route over: two Anthropic API keys, each on its own
 * simulator so that one can fail alone, and Bedrock (on the first simulator) behind them with
 * its credentials in a folder as the operator mounts them. The simulators cache per account,
 * as the API does.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PolicyDocument } from '../../contract/src/policy/policyDocument.ts';
import { BACKEND_CREDENTIALS_DIR_ENV } from '../../contract/src/pod/runtimeEnvironment.ts';
import { CACHE_MODEL, CACHE_MODEL_BEDROCK } from './cacheConversations.ts';
import { startSimulator, type SimulatorHandle } from './simulator.ts';
import type { Mutable } from './standaloneRuntime.ts';

export interface CacheBackends {
  /** Serves key one (backend a1) and Bedrock. */
  readonly sim1: SimulatorHandle;
  /** Serves key two (backend a2). */
  readonly sim2: SimulatorHandle;
  /** The runtime's environment: both keys and the Bedrock credentials folder. */
  readonly env: Readonly<Record<string, string>>;
  /** Puts a1 and a2 first and Bedrock after into `d`, the cache model, round-robin and `affinity`. */
  route(d: Mutable<PolicyDocument>, affinity: 'Sticky' | 'Off'): void;
  stop(): Promise<void>;
}

export interface CacheBackendOptions {
  /** Names the keys and credentials, so two suites' logs never look alike. */
  readonly label: string;
  readonly seeds: readonly [number, number];
  /** More simulator flags (both simulators), such as `--cache-ttl-ms`. */
  readonly simulatorArgs?: readonly string[];
}

export async function startCacheBackends(options: CacheBackendOptions): Promise<CacheBackends> {
  const aws = {
    accessKeyId: `AKID${options.label.toUpperCase().replace(/[^A-Z0-9]/g, '')}01`,
    secretAccessKey: `${options.label}-secret`,
  };
  const credentials = mkdtempSync(join(tmpdir(), `bw-${options.label}-`));
  mkdirSync(join(credentials, 'bedrock'));
  writeFileSync(join(credentials, 'bedrock', 'AWS_ACCESS_KEY_ID'), aws.accessKeyId);
  writeFileSync(join(credentials, 'bedrock', 'AWS_SECRET_ACCESS_KEY'), aws.secretAccessKey);
  const args = [
    '--aws-credentials',
    `${aws.accessKeyId}:${aws.secretAccessKey}`,
    ...(options.simulatorArgs ?? []),
  ];
  const [sim1, sim2] = await Promise.all([
    startSimulator({ seed: options.seeds[0], args }),
    startSimulator({ seed: options.seeds[1], args }),
  ]);
  return {
    sim1,
    sim2,
    env: {
      A1_KEY: `sk-${options.label}-key-one`,
      A2_KEY: `sk-${options.label}-key-two`,
      [BACKEND_CREDENTIALS_DIR_ENV]: credentials,
    },
    route(d, affinity) {
      d.backends = [
        { name: 'a1', baseURL: sim1.url, apiKeyEnv: 'A1_KEY', weight: 1 },
        { name: 'a2', baseURL: sim2.url, apiKeyEnv: 'A2_KEY', weight: 1 },
        {
          name: 'bedrock',
          type: 'Bedrock',
          region: 'us-east-1',
          baseURL: sim1.url,
          credentialsSecret: 'aws',
          priority: 1,
          weight: 1,
          models: { [CACHE_MODEL]: CACHE_MODEL_BEDROCK },
        },
      ];
      d.model = { ...d.model, name: CACHE_MODEL };
      d.loadBalancing = 'RoundRobin';
      d.cacheAffinity = affinity;
      d.retry = { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 };
    },
    async stop() {
      await Promise.all([sim1.stop(), sim2.stop()]);
      rmSync(credentials, { recursive: true, force: true });
    },
  };
}

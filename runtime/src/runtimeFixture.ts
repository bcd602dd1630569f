/**
 * For unit tests that drive an AgentRuntime without listening: its options with no port taken,
 * nothing logged and no grace at shutdown, from a policy file (each test applies its policies).
 */
import type { RuntimeOptions } from './cli/runtimeOptions.ts';

export function unlistenedOptions(overrides: Partial<RuntimeOptions> = {}): RuntimeOptions {
  return {
    port: 0,
    metricsPort: 0,
    host: '127.0.0.1',
    source: { kind: 'file', path: '/etc/policy.json' },
    logLevel: 'silent',
    shutdownGraceMs: 0,
    promptCacheTtlMs: 300_000,
    drainDelayMs: 0,
    ...overrides,
  };
}

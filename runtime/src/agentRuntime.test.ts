import { describe, expect, it } from '@jest/globals';
import { AgentRuntime } from './agentRuntime.ts';
import type { PolicySourceOption } from './cli/runtimeOptions.ts';
import { samplePolicyDocument } from '../../contract/src/policy/policyFixtures.ts';
import { createLogger } from './telemetry/logger.ts';
import { ManualClock } from '../../test/support/manualClock.ts';
import { unlistenedOptions } from './runtimeFixture.ts';

function runtimeFor(
  source: PolicySourceOption,
  { clock = new ManualClock(0), drainDelayMs = 0 } = {},
): AgentRuntime {
  return new AgentRuntime({
    options: unlistenedOptions({ source, drainDelayMs }),
    env: {},
    clock,
    logger: createLogger('silent'),
  });
}

/** Lets promise callbacks that a timer released run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AgentRuntime', () => {
  it.each<[string, PolicySourceOption]>([
    ['file', { kind: 'file', path: '/etc/policy.json' }],
    ['manifests', { kind: 'manifests', path: '/etc/manifests' }],
    ['configmap', { kind: 'cluster', agent: 'assistant', namespace: 'default' }],
  ])(
    'exports every policy reload result at 0 from the start, with source "%s"',
    async (label, source) => {
      const text = await runtimeFor(source).metrics.registry.metrics();
      for (const result of ['applied', 'unchanged', 'rejected']) {
        expect(text).toContain(
          `breakwater_policy_reloads_total{result="${result}",source="${label}"} 0`,
        );
      }
    },
  );

  it('counts a refused policy on top of the zero it started from', async () => {
    const runtime = runtimeFor({ kind: 'file', path: '/etc/policy.json' });
    runtime.store.offerText('{"version": 1}', 'file:/etc/policy.json');
    const text = await runtime.metrics.registry.metrics();
    expect(text).toContain('breakwater_policy_reloads_total{result="rejected",source="file"} 1');
  });

  it('exports the end of life of a deprecated model once a policy names it', async () => {
    const runtime = runtimeFor({ kind: 'file', path: '/etc/policy.json' });
    const sample = samplePolicyDocument();
    const doc = { ...sample, model: { ...sample.model, name: 'claude-sonnet-4-5', fallbacks: [] } };
    runtime.store.offerText(JSON.stringify(doc), 'file:/etc/policy.json');
    const text = await runtime.metrics.registry.metrics();
    expect(text).toContain(
      'breakwater_model_end_of_life_timestamp_seconds{model="claude-sonnet-4-5"} 1795996800',
    );
  });

  it('fails readiness at SIGTERM but refuses new requests only after the drain delay', async () => {
    const clock = new ManualClock(0);
    const runtime = runtimeFor(
      { kind: 'file', path: '/etc/policy.json' },
      {
        clock,
        drainDelayMs: 5_000,
      },
    );
    let stopped = false;
    const shutdown = runtime.shutdown(1_000).then((result) => {
      stopped = true;
      return result;
    });
    expect(runtime.lifecycle).toMatchObject({ draining: true, refusing: false });
    clock.advance(4_999);
    await settle();
    expect(runtime.lifecycle.refusing).toBe(false);
    clock.advance(1);
    await settle();
    expect(runtime.lifecycle.refusing).toBe(true);
    expect(stopped).toBe(true);
    expect(await shutdown).toEqual({ drained: true });
  });
});

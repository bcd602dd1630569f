/**
 * An override on-call can see land: `kubectl patch cbp … ForcedOpen` with an `until`, then
 * `kubectl wait` on the policy until every replica says it applies it (its
 * `breakwater.dev/runtime` annotation names the override and the policy generation), an Event
 * when they all have, the OVERRIDE column, and, once `until` passes with no call to any pod,
 * the replicas drop it, status says Expired and another Event says so.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../contract/src/reporting/runtimeReport.ts';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  condition,
  getBreakerPolicy,
  kubectlRow,
  mergePatch,
  podHttpUrl,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { reportingPods } from './onCallCluster.ts';

jest.setTimeout(300_000);

const AGENT = 'switchboard';
const CBP = 'switchboard-provider';
const REASON = 'INC-42: provider outage';
/** Long enough for three replicas to apply it and kubectl to see them do so. */
const FORCED_FOR_MS = 20_000;

let scenario: Scenario;
let until = '';

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'oncall-override', seed: 24 }, (sim) => [
    circuitBreakerPolicy(CBP),
    agentDeployment(AGENT, { providerURL: sim.url, replicas: 3, circuitBreakerPolicy: CBP }),
  ]);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

interface EventView extends KubeObject {
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string };
}

async function eventsFor(reason: string): Promise<EventView[]> {
  const { items } = await api().list<EventView>(Kinds.Event, {
    namespace: scenario.ns.name,
    fieldSelector: `involvedObject.name=${CBP}`,
  });
  return items.filter(
    (e) => e.reason === reason && e.involvedObject?.kind === 'CircuitBreakerPolicy',
  );
}

const appliedOverride = (pod: PodView) =>
  decodeRuntimeReport(pod.metadata?.annotations?.[RUNTIME_ANNOTATION])?.override;

describe('a ForcedOpen override with an end', () => {
  it('is acknowledged by 3/3 replicas, and kubectl wait returns when it is', async () => {
    const ns = scenario.ns.name;
    await reportingPods(ns, AGENT, 3);
    until = new Date(Date.now() + FORCED_FOR_MS).toISOString().replace(/\.\d+Z$/, 'Z');
    const patchedAt = Date.now();
    await mergePatch(ns, `cbp/${CBP}`, {
      spec: { override: { state: 'ForcedOpen', reason: REASON, until } },
    });
    const byCondition = await kubectl(
      ['wait', '-n', ns, `cbp/${CBP}`, '--for=condition=OverrideApplied', '--timeout=60s'],
      { timeoutMs: 70_000 },
    );
    const waitedMs = Date.now() - patchedAt;
    expect(byCondition.stdout).toContain('condition met');
    const byJsonPath = await kubectl(
      [
        'wait',
        '-n',
        ns,
        `cbp/${CBP}`,
        '--for=jsonpath={.status.override.applied}=3/3',
        '--timeout=10s',
      ],
      { timeoutMs: 20_000 },
    );
    expect(byJsonPath.stdout).toContain('condition met');
    process.stderr.write(
      `[oncall] override patch → kubectl wait OverrideApplied: ${String(waitedMs)} ms\n`,
    );

    const policy = await getBreakerPolicy(ns, CBP);
    const generation = policy?.metadata.generation;
    expect(policy?.status?.override).toEqual({
      state: 'ForcedOpen',
      reason: REASON,
      until,
      observedGeneration: generation,
      applied: '3/3',
      summary: 'ForcedOpen 3/3',
      agents: [{ name: AGENT, applied: 3, replicas: 3 }],
    });
    expect(condition(policy, 'OverrideApplied')).toMatchObject({
      status: 'True',
      reason: 'Applied',
      message: '3/3 replicas apply ForcedOpen',
    });
    expect((await kubectlRow(ns, `cbp/${CBP}`))['OVERRIDE']).toBe('ForcedOpen 3/3');
    // Each replica says which override, and from which generation of the policy.
    for (const pod of await agentPods(ns, AGENT)) {
      expect(appliedOverride(pod)).toEqual({
        state: 'ForcedOpen',
        reason: REASON,
        until: new Date(until).toISOString(),
        generation,
      });
      expect(await sendMessage(podHttpUrl(pod))).toBe(503);
    }
    const [event] = await eventually(
      async () => {
        const found = await eventsFor('OverrideApplied');
        return found.length > 0 && found;
      },
      { timeoutMs: 10_000, description: 'an OverrideApplied Event' },
    );
    expect(event?.message).toBe(`ForcedOpen applied by 3/3 replicas: ${REASON}`);
  });

  it('ends at its until with no call to any pod: replicas drop it, status says Expired, an Event says so', async () => {
    const ns = scenario.ns.name;
    const policy = await eventually(
      async () => {
        const p = await getBreakerPolicy(ns, CBP);
        return condition(p, 'OverrideApplied')?.reason === 'Expired' && p;
      },
      {
        timeoutMs: FORCED_FOR_MS + 30_000,
        intervalMs: 200,
        description: 'OverrideApplied Expired',
      },
    );
    const lateMs = Date.now() - Date.parse(until);
    process.stderr.write(`[oncall] override until → status Expired: ${String(lateMs)} ms\n`);
    expect(lateMs).toBeLessThan(10_000);
    // The replicas drop it at the same instant, each on its own timer, and then report.
    const dropped = await eventually(
      async () => {
        const p = await getBreakerPolicy(ns, CBP);
        return p?.status?.override?.applied === '0/3' && p;
      },
      { timeoutMs: 10_000, intervalMs: 200, description: 'every replica to drop the override' },
    );
    process.stderr.write(
      `[oncall] override until → 0/3 replicas apply it: ${String(Date.now() - Date.parse(until))} ms\n`,
    );
    expect(dropped.status?.override?.summary).toBe('ForcedOpen expired');
    expect(condition(policy, 'OverrideApplied')?.status).toBe('False');
    const pods = await agentPods(ns, AGENT);
    expect(pods.map(appliedOverride)).toEqual([undefined, undefined, undefined]);
    const [event] = await eventually(
      async () => {
        const found = await eventsFor('OverrideExpired');
        return found.length > 0 && found;
      },
      { timeoutMs: 10_000, description: 'an OverrideExpired Event' },
    );
    expect(event?.message).toContain(`ForcedOpen ended at ${until}`);
    expect(await eventsFor('OverrideApplied')).toHaveLength(1);
  });

  it('is gone from status after a reset, and kubectl wait says every replica applies none', async () => {
    const ns = scenario.ns.name;
    await mergePatch(ns, `cbp/${CBP}`, { spec: { override: { state: 'Auto' } } });
    await eventually(
      async () =>
        (await getBreakerPolicy(ns, CBP))?.status?.observedGeneration ===
        (await getBreakerPolicy(ns, CBP))?.metadata.generation,
      { timeoutMs: 10_000, description: 'status for the reset' },
    );
    const waited = await kubectl(
      ['wait', '-n', ns, `cbp/${CBP}`, '--for=condition=OverrideApplied', '--timeout=30s'],
      { timeoutMs: 40_000 },
    );
    expect(waited.stdout).toContain('condition met');
    const policy = await getBreakerPolicy(ns, CBP);
    expect(policy?.status?.override).toBeUndefined();
    expect(condition(policy, 'OverrideApplied')?.reason).toBe('NoOverride');
    expect((await kubectlRow(ns, `cbp/${CBP}`))['OVERRIDE']).toBe('');
  });
});

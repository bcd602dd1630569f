/**
 * Spend is durable without a store: an agent with a small dollar budget spends it through real
 * calls into the simulator until its runtime refuses, `kubectl get rlp` shows SPENT and
 * RESETS, and then its pod is deleted and replaced. The spend the status recorded is still
 * there (the agent's spend ledger moved the gone process into its baseline), and the new pod,
 * which started its budget from that record, refuses the call the old total forbids rather
 * than starting from zero.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment, MODEL, rateLimitPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  getAgent,
  getRateLimitPolicy,
  isPodReady,
  kubectlRow,
  podHttpUrl,
  sendMessage,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { kubectlBreakwater } from '../inCluster/kubectlBreakwater.ts';
import {
  BUDGETS_ANNOTATION,
  decodeBudgetReport,
} from '../../contract/src/reporting/budgetReport.ts';

jest.setTimeout(300_000);

const AGENT = 'thrifty';
const RLP = 'thrifty-spend';
/**
 * A fifth of a cent. At the prices below a short answer costs about $0.00006 and a call's worst
 * case (its request bytes at the dearest input rate, 16 output tokens) several times that:
 * about two dozen calls fit, then the next worst case does not.
 */
const DAILY_USD = '0.002';

let scenario: Scenario;

beforeAll(async () => {
  scenario = await startScenario({ prefix: 'oncall-spend', seed: 35 }, (sim) => [
    rateLimitPolicy(RLP, {
      budgets: [
        { name: 'daily', period: 'Day', usd: DAILY_USD, onExhausted: 'Refuse', warnAtPercent: 10 },
      ],
    }),
    agentDeployment(AGENT, {
      providerURL: sim.url,
      rateLimitPolicy: RLP,
      spec: {
        pricing: [
          {
            model: MODEL,
            inputPerMTok: '3',
            outputPerMTok: '15',
            cacheWrite5mPerMTok: '3.75',
            cacheWrite1hPerMTok: '6',
            cacheReadPerMTok: '0.3',
          },
        ],
      },
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await scenario.end();
});

/** The agent's one ready pod that reports its budgets, other than the pods in `not`. */
function reportingPod(not: ReadonlySet<string | undefined> = new Set()): Promise<PodView> {
  return eventually(
    async () => {
      const pods = (await agentPods(scenario.ns.name, AGENT)).filter(
        (p) => isPodReady(p) && !not.has(p.metadata?.uid),
      );
      const pod = pods[0];
      return (
        pods.length === 1 &&
        pod !== undefined &&
        decodeBudgetReport(pod.metadata?.annotations?.[BUDGETS_ANNOTATION])?.budgets['daily'] !==
          undefined &&
        pod
      );
    },
    { timeoutMs: 150_000, description: `one ready pod of ${AGENT} reporting its budgets` },
  );
}

/** Picodollars of a decimal dollar string. */
const pico = (usd: string | undefined): bigint => {
  const [whole = '0', fraction = ''] = (usd ?? '0').split('.');
  return BigInt(whole) * 10n ** 12n + BigInt(fraction.padEnd(12, '0'));
};

const agentSpent = async (): Promise<bigint> =>
  pico((await getAgent(scenario.ns.name, AGENT))?.status?.spend?.budgets?.[0]?.spent?.usd);

describe('a dollar budget without a store, across pod replacement', () => {
  let spentBefore = 0n;
  let firstPod: PodView;

  it('spends until the runtime refuses, and kubectl get rlp shows SPENT and RESETS', async () => {
    firstPod = await reportingPod();
    const statuses: number[] = [];
    while (statuses.length < 40 && statuses.at(-1) !== 429)
      statuses.push(await sendMessage(podHttpUrl(firstPod)));
    process.stderr.write(`[spend] first pod answered ${statuses.join(',')}\n`);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.at(-1)).toBe(429);

    // The status holds everything the pod reports it spent (settled, nothing in flight).
    const settled = await eventually(
      async () => {
        const pods = await agentPods(scenario.ns.name, AGENT);
        const report = decodeBudgetReport(
          pods.find((p) => p.metadata?.uid === firstPod.metadata?.uid)?.metadata?.annotations?.[
            BUDGETS_ANNOTATION
          ],
        )?.budgets['daily'];
        const status = await agentSpent();
        return (
          report !== undefined &&
          report.spent.picoUsd > 0n &&
          report.held.picoUsd === 0n &&
          status === report.spent.picoUsd &&
          status
        );
      },
      { timeoutMs: 60_000, description: "the agent's status holding the pod's reported spend" },
    );
    spentBefore = settled;

    const row = await eventually(
      async () => {
        const r = await kubectlRow(scenario.ns.name, `rlp/${RLP}`);
        return /^\d+% of daily \(\$[0-9.]+ of \$0\.002\)$/.test(r['SPENT'] ?? '') && r;
      },
      { timeoutMs: 60_000, description: 'SPENT in kubectl get rlp' },
    );
    process.stderr.write(
      `[spend] kubectl get rlp: SPENT ${row['SPENT'] ?? ''} RESETS ${row['RESETS'] ?? ''}\n`,
    );
    expect(Date.parse(row['RESETS'] ?? '')).toBeGreaterThan(Date.now());
    const policy = await getRateLimitPolicy(scenario.ns.name, RLP);
    expect(policy?.status?.budgets?.[0]).toMatchObject({ name: 'daily', agent: AGENT, agents: 1 });
    expect(pico(policy?.status?.budgets?.[0]?.spent?.usd)).toBe(spentBefore);
    expect(policy?.status?.conditions?.find((c) => c.type === 'BudgetWarning')?.status).toBe(
      'True',
    );
    expect(policy?.status?.conditions?.find((c) => c.type === 'ModelsPriced')?.status).toBe('True');

    // On-call's view: the plugin lists the agent's spend from its status, pods read or not.
    const top = await kubectlBreakwater(['top', '-n', scenario.ns.name]);
    process.stderr.write(`[spend] kubectl breakwater top:\n${top.stdout}`);
    expect(top.stdout).toMatch(/^thrifty\s+daily\s+Agent\s+\$0\.00\d+\s+\$0\.0020\s+\d+%\s+\S+Z/m);
  });

  it('keeps the recorded spend when the pod is replaced, and the new pod refuses what it forbids', async () => {
    await api().delete(Kinds.Pod, scenario.ns.name, firstPod.metadata?.name ?? '');
    const second = await reportingPod(new Set([firstPod.metadata?.uid]));
    // The gone process's spend is in the baseline: the total did not fall.
    const ledger = await eventually(
      async () => {
        const agent = await getAgent(scenario.ns.name, AGENT);
        const l = agent?.status?.spend?.ledger;
        return (
          l?.processes?.every((p) => p.pod !== firstPod.metadata?.uid) === true &&
          l.processes.some((p) => p.pod === second.metadata?.uid) &&
          l
        );
      },
      { timeoutMs: 60_000, description: 'the first pod moved into the ledger baseline' },
    );
    expect(BigInt(ledger.baseline?.[0]?.picoUsd ?? '0')).toBe(spentBefore);
    expect(await agentSpent()).toBeGreaterThanOrEqual(spentBefore);

    // The new process counts the old total as spent: the call the budget no longer has room
    // for is refused at once, naming the budget.
    const status = await sendMessage(podHttpUrl(second));
    expect(status).toBe(429);
    const report = decodeBudgetReport(
      (await agentPods(scenario.ns.name, AGENT)).find(
        (p) => p.metadata?.uid === second.metadata?.uid,
      )?.metadata?.annotations?.[BUDGETS_ANNOTATION],
    );
    // Its own report starts from zero: the seed is the ledger's already.
    expect(report?.budgets['daily']?.spent.picoUsd).toBe(0n);
    expect(await agentSpent()).toBe(spentBefore);
  });
});

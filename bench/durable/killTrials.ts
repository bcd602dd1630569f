/**
 * `make bench-durable`: durable runs under SIGKILL on a cluster's node (issue 36:
 * "20 SIGKILL trials mid-run, 0 repeated tool effects, 0 runs lost"). The on-call test's set-up
 * (test/onCall/durableRunResume.test.ts), repeated: the team's own agent (durableAgent.ts, the
 * official SDKs) in the agent container of an AgentDeployment with `spec.durability`, its
 * runtime as a native sidecar, journals in a real redis-server on this machine, an MCP server
 * here that counts each effect. Each trial runs the agent under a new run id, stops it after
 * step k (k = 1..5 in turn), deletes the pod with `--grace-period=0 --force`, and runs the
 * agent again with the same run id in the replacement pod. Per trial: the effects of each of
 * the six steps (exactly one each is right), whether the run finished with the first k answers
 * replayed (else it is lost), the replacement pod's wait and the time from the delete to the
 * first step past k. Writes bench/results/durable-kill-trials.json; exits 1 on a repeated
 * effect or a lost run.
 *
 * On kind: brought up when it is not running (and down again afterwards, unless BREAKWATER_KEEP_CLUSTER=1), or
 * the cluster of BREAKWATER_KUBECONFIG (bench/benchCluster.ts).
 *
 *   node --no-warnings=ExperimentalWarning bench/durable/killTrials.ts [--trials 20]
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getAgent, type PodView } from '../../test/support/breakwaterCluster.ts';
import {
  durableAgentObjects,
  effectsByStep,
  journalingPod,
  runAgent,
} from '../../test/support/durableAgentPod.ts';
import { kubectl } from '../../test/support/kube.ts';
import { startMcpServer } from '../../test/support/mcpServer.ts';
import { eventually } from '../../test/support/operator.ts';
import { startScenario, type Scenario } from '../../test/support/operatorScenario.ts';
import { startRedis } from '../../test/support/redisServer.ts';
import { buildAgentImage } from '../../test/inCluster/agentImages.ts';
import { median } from '../../tools/stats/samples.ts';
import { benchCluster } from '../benchCluster.ts';

const AGENT = 'kill-trials';
const STEPS = 6;

const { values: flags } = parseArgs({ options: { trials: { type: 'string', default: '20' } } });
const TRIALS = Number(flags.trials);

const log = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

interface Trial {
  readonly trial: number;
  readonly run: string;
  /** Steps done before the pod was deleted. */
  readonly killedAfterStep: number;
  /** Effects per step, 1..6: exactly 1 each is right. */
  readonly effects: number[];
  readonly repeatedEffects: number;
  /** The second run finished all six steps with the first k answers from the journal. */
  readonly finished: boolean;
  readonly replayedSteps: number;
  /** Force-delete → the replacement pod ready and journaling. */
  readonly podReplacedMs: number;
  /** Force-delete → the first step past k done in the replacement pod. */
  readonly resumedMs: number;
  readonly error?: string;
}

async function trial(
  scenario: Scenario,
  effects: ReadonlyMap<string, number>,
  n: number,
  gone: Set<string | undefined>,
): Promise<Trial> {
  const ns = scenario.ns.name;
  const run = `trial-${String(n)}-${randomUUID()}`;
  const k = 1 + ((n - 1) % (STEPS - 1));
  const before = new Map(effects);
  const pod = await journalingPod(ns, AGENT, gone);
  const first = runAgent(ns, pod, run, { STOP_AFTER: String(k) });
  await first.step(k);
  const killed = performance.now();
  await kubectl(
    ['delete', 'pod', '-n', ns, pod.metadata?.name ?? '', '--grace-period=0', '--force'].concat(
      '--wait=false',
    ),
  );
  first.stop();
  gone.add(pod.metadata?.uid);
  let replacement: PodView | undefined;
  let podReplacedMs = NaN;
  let resumedMs = NaN;
  let error: string | undefined;
  let finished = false;
  let replayedSteps = 0;
  try {
    replacement = await journalingPod(ns, AGENT, gone);
    podReplacedMs = performance.now() - killed;
    const second = runAgent(ns, replacement, run);
    await second.step(k + 1);
    resumedMs = performance.now() - killed;
    const code = await second.exited;
    const ids = (lines: typeof first.lines) => lines.slice(0, k).map((l) => l.messageId);
    replayedSteps = ids(second.lines).filter((id, i) => id === ids(first.lines)[i]).length;
    const steps = second.lines.map((l) => l.step).join(',');
    finished = code === 0 && steps === '1,2,3,4,5,6' && replayedSteps === k;
    if (!finished)
      error = `exit ${String(code)}, steps ${steps}, ${String(replayedSteps)} of ${String(k)} replayed: ${second.stderr.join('')}`;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const byStep = new Map(effectsByStep(effects, before));
  const counts = Array.from({ length: STEPS }, (_, i) => byStep.get(i + 1) ?? 0);
  return {
    trial: n,
    run,
    killedAfterStep: k,
    effects: counts,
    repeatedEffects: counts.reduce((sum, c) => sum + Math.max(0, c - 1), 0),
    finished,
    replayedSteps,
    podReplacedMs: Math.round(podReplacedMs),
    resumedMs: Math.round(resumedMs),
    ...(error === undefined ? {} : { error: error.slice(0, 2000) }),
  };
}

async function main(): Promise<void> {
  const cluster = await benchCluster(log);
  const loadBefore = loadavg();
  const image = await buildAgentImage('typescript');
  const redis = await startRedis();
  const mcp = await startMcpServer();
  let scenario: Scenario | undefined;
  const trials: Trial[] = [];
  try {
    scenario = await startScenario({ prefix: 'bench-kill-trials', seed: 41 }, (sim) =>
      durableAgentObjects(AGENT, {
        providerURL: sim.url,
        redis: redis.address,
        mcp: mcp.url,
        image,
      }),
    );
    const gone = new Set<string | undefined>();
    for (let n = 1; n <= TRIALS; n++) {
      const result = await trial(scenario, mcp.effects, n, gone);
      trials.push(result);
      log(
        `trial ${String(n)}: killed after step ${String(result.killedAfterStep)}, effects ${result.effects.join(' ')}, ` +
          `${result.finished ? 'finished' : `LOST (${result.error ?? ''})`}, resumed in ${String(result.resumedMs)} ms`,
      );
    }
    const ns = scenario.ns.name;
    const finishedCount = trials.filter((t) => t.finished).length;
    // The agent's status counts every resumption (the pods' reports, summed by the operator).
    const status = await eventually(
      async () => {
        const runs = (await getAgent(ns, AGENT))?.status?.runs;
        return runs !== undefined && (runs.resumed ?? 0) >= finishedCount && runs;
      },
      { timeoutMs: 120_000, description: `status.runs.resumed to reach ${String(finishedCount)}` },
    ).catch(() => undefined);
    const summary = {
      when: new Date().toISOString(),
      cores: cpus().length,
      loadAverage: { before: loadBefore, after: loadavg() },
      method:
        `${String(TRIALS)} trials on ${cluster.title}: the team's own agent (official SDKs) runs ` +
        `${String(STEPS)} steps of a model call and a file_ticket tool call; stopped after step k (1..5 in turn), ` +
        'its pod force-deleted (--grace-period=0 --force), and run again with the same run id in the replacement pod',
      summary: {
        trials: TRIALS,
        repeatedEffects: trials.reduce((sum, t) => sum + t.repeatedEffects, 0),
        missingEffects: trials.reduce((sum, t) => sum + t.effects.filter((c) => c === 0).length, 0),
        runsLost: TRIALS - finishedCount,
        podReplacedP50Ms: Math.round(median(trials.map((t) => t.podReplacedMs))),
        resumedP50Ms: Math.round(median(trials.map((t) => t.resumedMs))),
        resumedMaxMs: Math.max(...trials.map((t) => t.resumedMs)),
        statusRuns: status ?? null,
      },
      trials,
    };
    mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
    writeFileSync(
      new URL('../results/durable-kill-trials.json', import.meta.url),
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    const s = summary.summary;
    process.stdout.write(
      `durable kill trials: trials=${String(s.trials)} repeated_effects=${String(s.repeatedEffects)} ` +
        `runs_lost=${String(s.runsLost)} resumed_p50_ms=${String(s.resumedP50Ms)} pod_replaced_p50_ms=${String(s.podReplacedP50Ms)}\n`,
    );
    if (s.repeatedEffects > 0 || s.runsLost > 0) process.exitCode = 1;
  } finally {
    await scenario?.end().catch(() => undefined);
    await Promise.all([redis.remove(), mcp.stop()]).catch(() => undefined);
    await cluster.release();
  }
}

await main();

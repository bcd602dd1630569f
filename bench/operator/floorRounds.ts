/**
 * Issue 53 item 7 in `make bench-operator`: per round, the bare client's floor (bareFloor.ts),
 * then the operator on the same agents, each in a namespace of its own that is deleted and gone
 * before the next phase begins (no garbage collection of the last phase's 7,000 objects under
 * the next, and the Service addresses free again).
 */
import { loadavg } from 'node:os';
import type { KubeClient } from '../../platform/src/kube/kubeClient.ts';
import { kubectl, uniqueNamespace, type TestNamespace } from '../../test/support/kube.ts';
import type { BareResult } from './bareFloor.ts';
import type { ScaleResult } from './agentsAtScale.ts';
import { bareAgents, floorRound, FLOOR_GOAL, type FloorRound } from './floorPhase.ts';
import { ensureServiceAddresses } from './serviceAddresses.ts';

export interface FloorOptions {
  readonly client: KubeClient;
  readonly agents: number;
  readonly rounds: number;
  readonly concurrency: number;
  /** Every namespace made, for the bench to delete at the end whatever happens. */
  readonly namespaces: TestNamespace[];
  /** Run at the bench's very end. */
  readonly cleanups: (() => Promise<void>)[];
  /** The operator phase on the agents of `ns` (agentsAtScale.ts through the bench). */
  readonly operatorPhase: (ns: TestNamespace) => Promise<OperatorScale>;
  readonly log: (line: string) => void;
}

export type OperatorScale = ScaleResult & { readonly addedServiceCidr: string | null };

export interface FloorRun {
  /** The last round's operator phase. */
  readonly scale: OperatorScale;
  readonly bare: BareResult[];
  readonly rounds: FloorRound[];
  /** The machine's 1-minute load average as each phase began, bare and operator in turn. */
  readonly loadAverage1m: number[];
}

async function deleteAndWait(ns: TestNamespace, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  await ns.cleanup();
  await kubectl(['wait', '--for=delete', `namespace/${ns.name}`, '--timeout=600s'], {
    timeoutMs: 620_000,
    allowFailure: true,
  });
  log(`namespace ${ns.name} gone after ${String(Date.now() - started)} ms`);
}

const load1m = (): number => Math.round((loadavg()[0] ?? 0) * 100) / 100;

export async function agentsBesideFloor(options: FloorOptions): Promise<FloorRun> {
  const { log } = options;
  const bare: BareResult[] = [];
  const rounds: FloorRound[] = [];
  const loadAverage1m: number[] = [];
  let scale: OperatorScale | undefined;
  for (let round = 1; round <= options.rounds; round++) {
    const range = await ensureServiceAddresses(options.agents);
    options.cleanups.push(range.remove);
    const bareNs = await uniqueNamespace('bench-op-bare');
    options.namespaces.push(bareNs);
    loadAverage1m.push(load1m());
    log(
      `round ${String(round)}: the bare floor, ${String(options.agents)} agents in ${bareNs.name}`,
    );
    const floor = await bareAgents({
      client: options.client,
      namespace: bareNs.name,
      count: options.agents,
      concurrency: options.concurrency,
      timeoutMs: 300_000,
      log,
    });
    bare.push(floor);
    await deleteAndWait(bareNs, log);
    const scaleNs = await uniqueNamespace('bench-op-scale');
    options.namespaces.push(scaleNs);
    loadAverage1m.push(load1m());
    log(
      `round ${String(round)}: the operator, ${String(options.agents)} agents in ${scaleNs.name}`,
    );
    scale = await options.operatorPhase(scaleNs);
    const figures = floorRound(floor, scale);
    rounds.push(figures);
    log(`round ${String(round)}: operator over floor ${String(figures.operator_over_floor)}`);
    if (round < options.rounds) await deleteAndWait(scaleNs, log);
  }
  if (scale === undefined) throw new Error('--rounds must be at least 1');
  return { scale, bare, rounds, loadAverage1m };
}

/** The operator.json section of the floor: what it is, each round, the goal. */
export function floorSection(run: FloorRun, concurrency: number): object {
  return {
    what:
      'issue 53 item 7: with no operator running, a bare client (node https on the kubeconfig, ' +
      `keep-alive, ${String(concurrency)} requests in flight, each worker one agent at a ` +
      'time: create, the six children server-side applied with the operator field manager, ' +
      "the status) writes the objects the operator's own pure functions render for each of " +
      'the same agents, byte for byte (bench/operator/bareRender.unit.test.ts); converged as ' +
      'the operator phase is (every agent with a status for its generation, seen by a watch). ' +
      'Each phase in a namespace of its own, the one before deleted and gone first',
    concurrency,
    goal_operator_over_floor: FLOOR_GOAL,
    operator_over_floor: run.rounds.map((r) => r.operator_over_floor),
    loadAverage1mAtEachPhase: run.loadAverage1m,
    rounds: run.rounds,
    bare: run.bare,
  };
}

/** The bench's last line for the floor. */
export function floorLine(run: FloorRun): string {
  const last = run.rounds.at(-1);
  return (
    `operator: bare_floor_s=${run.bare.map((b) => b.converged_s.toFixed(1)).join(',')} ` +
    `operator_s=${run.rounds.map((r) => r.converged_s.operator.toFixed(1)).join(',')} ` +
    `operator_over_floor=${run.rounds.map((r) => r.operator_over_floor.toFixed(2)).join(',')} ` +
    `api_writes_per_agent_bare=${String(last?.api_server_writes_per_agent.bare)} ` +
    `api_writes_per_agent_operator=${String(last?.api_server_writes_per_agent.operator)}\n`
  );
}

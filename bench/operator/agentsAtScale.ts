/**
 * Many AgentDeployments created at once (replicas 0: no processes, the operator's work only):
 * how long until every one has its children applied and its status written, and how much
 * memory the operator needed for it. Status is written after the children are applied in the
 * same reconcile, so a current status implies applied children; the counts are checked too.
 */
import type { AgentDeployment } from '../../contract/src/api/resources.ts';
import type { KubeClient } from '../../platform/src/kube/kubeClient.ts';
import { Kinds, type ResourceKind } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment } from '../../test/support/agentFixtures.ts';
import type { OperatorProcess } from '../../test/support/operator.ts';
import type { WatchedCache } from './watchedCache.ts';
import { apiServerWrites, writesBetween } from './apiServerWrites.ts';
import { cpuBetween, sampleCpu } from './clusterCpu.ts';

export interface ScaleInputs {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly count: number;
  /** Creates in flight at once. */
  readonly createConcurrency: number;
  readonly circuitBreakerPolicy: string;
  readonly rateLimitPolicy: string;
  readonly agents: WatchedCache<AgentDeployment>;
  readonly operator: OperatorProcess;
  readonly timeoutMs: number;
  /** How long to wait for every agent to be Ready as well; 0 does not wait. */
  readonly readyTimeoutMs: number;
  readonly log: (line: string) => void;
}

export interface ScaleResult {
  readonly agents: number;
  /** From the first create until the last one was accepted. */
  readonly create_s: number;
  /** From the first create until every agent had children and a current status. */
  readonly converged_s: number;
  /** Until every agent was also Ready (needs the Deployment controller's status too); null if not within the bound. */
  readonly ready_s: number | null;
  readonly children: Record<string, number>;
  readonly operator_peak_rss_mb: number;
  readonly operator_reconciles: Record<string, number>;
  /** converged_s / create_s: how far the operator falls behind the API server's own pace. */
  readonly converged_to_create_ratio: number;
  /** The operator's writes per agent by kind (apply of each child, status), until convergence. */
  readonly writes_per_agent_at_convergence: Record<string, number>;
  /** The same once every agent is Ready (or the wait for it ended). */
  readonly writes_per_agent: Record<string, number>;
  /**
   * Every client's writes as the API server counted them, by resource, while the agents were
   * created and from then until convergence: the operator's, and the built-in controllers'
   * answers to its children (ReplicaSets, EndpointSlices, status updates).
   */
  readonly api_server_writes: {
    readonly during_creates: Record<string, number>;
    readonly creates_to_convergence: Record<string, number>;
    /** Writes a second the API server took in each phase. */
    readonly per_second_during_creates: number;
    readonly per_second_to_convergence: number;
  };
  /**
   * CPU seconds each process used while the agents were created and from then until
   * convergence: the cluster's own processes (kind's node runs them as this machine's processes)
   * and the operator.
   */
  readonly cpu_seconds: {
    readonly during_creates: Record<string, number>;
    readonly creates_to_convergence: Record<string, number>;
  };
}

const CHILD_KINDS: readonly ResourceKind[] = [
  Kinds.ConfigMap,
  Kinds.ServiceAccount,
  Kinds.Role,
  Kinds.RoleBinding,
  Kinds.Deployment,
  Kinds.Service,
];

/** Converged: children applied and a status written for the agent's current generation. */
export const statusCurrent = (a: AgentDeployment): boolean =>
  a.status?.observedGeneration === a.metadata.generation && (a.status?.conditions?.length ?? 0) > 0;

const ready = (a: AgentDeployment): boolean =>
  statusCurrent(a) &&
  a.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/** One of the many agents: no replicas, both policies referenced. */
export function scaleAgent(
  name: string,
  circuitBreakerPolicy: string,
  rateLimitPolicy: string,
): AgentDeployment {
  return agentDeployment(name, {
    providerURL: 'http://127.0.0.1:9',
    replicas: 0,
    circuitBreakerPolicy,
    rateLimitPolicy,
  });
}

export async function measureAgentsAtScale(inputs: ScaleInputs): Promise<ScaleResult> {
  const { count } = inputs;
  const all = (items: readonly AgentDeployment[], test: (a: AgentDeployment) => boolean) =>
    items.length === count && items.every(test);
  const converged = inputs.agents.when(
    (items) => all(items, statusCurrent),
    inputs.timeoutMs,
    `${String(count)} agents with a current status`,
  );
  const allReady = inputs.agents.when(
    (items) => all(items, ready),
    inputs.readyTimeoutMs,
    `${String(count)} agents Ready`,
  );
  allReady.catch(() => undefined);

  const cpu = () => sampleCpu({ operator: inputs.operator.pid, bench: process.pid });
  const writesAtStart = await apiServerWrites();
  const cpuAtStart = cpu();
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inputs.createConcurrency }, async () => {
      while (next < count) {
        const name = `agent-${String(next++).padStart(4, '0')}`;
        const agent = scaleAgent(name, inputs.circuitBreakerPolicy, inputs.rateLimitPolicy);
        await inputs.client.create(Kinds.AgentDeployment, {
          ...agent,
          metadata: { ...agent.metadata, namespace: inputs.namespace },
        });
      }
    }),
  );
  const createdAt = Date.now();
  const cpuAtCreated = cpu();
  inputs.log(`created ${String(count)} agents in ${String(createdAt - started)} ms`);
  const writesAtCreated = await apiServerWrites();

  const convergedAt = await converged;
  const cpuAtConverged = cpu();
  const writesAtConverged = await apiServerWrites();
  inputs.log(`every agent has children and status after ${String(convergedAt - started)} ms`);
  const writesAtConvergence = writeCounts(await inputs.operator.metrics());
  const readyAt = await allReady.catch((err: unknown) => {
    inputs.log(`not every agent became Ready in time: ${String(err)}`);
    return undefined;
  });
  const peak = inputs.operator.peakRssMb() ?? Number.NaN;
  const metrics = await inputs.operator.metrics();

  const children: Record<string, number> = {};
  for (const kind of CHILD_KINDS) {
    const { items } = await inputs.client.list(kind, {
      namespace: inputs.namespace,
      labelSelector: 'breakwater.dev/agent',
    });
    children[kind.kind] = items.length;
    if (items.length !== count) {
      throw new Error(`${String(items.length)} ${kind.kind}s for ${String(count)} agents`);
    }
  }
  return {
    agents: count,
    create_s: (createdAt - started) / 1000,
    converged_s: (convergedAt - started) / 1000,
    ready_s: readyAt === undefined ? null : (readyAt - started) / 1000,
    children,
    operator_peak_rss_mb: Math.round(peak * 10) / 10,
    operator_reconciles: reconcileCounts(metrics),
    converged_to_create_ratio:
      Math.round(((convergedAt - started) / (createdAt - started)) * 100) / 100,
    writes_per_agent_at_convergence: perAgent(writesAtConvergence, count),
    writes_per_agent: perAgent(writeCounts(metrics), count),
    api_server_writes: apiServerPhases(
      writesBetween(writesAtStart, writesAtCreated),
      writesBetween(writesAtCreated, writesAtConverged),
      (createdAt - started) / 1000,
      (convergedAt - createdAt) / 1000,
    ),
    cpu_seconds: {
      during_creates: cpuBetween(cpuAtStart, cpuAtCreated),
      creates_to_convergence: cpuBetween(cpuAtCreated, cpuAtConverged),
    },
  };
}

function apiServerPhases(
  creates: Record<string, number>,
  convergence: Record<string, number>,
  createSeconds: number,
  convergenceSeconds: number,
): ScaleResult['api_server_writes'] {
  const rate = (writes: Record<string, number>, seconds: number): number =>
    Math.round((writes['total'] ?? 0) / seconds);
  return {
    during_creates: creates,
    creates_to_convergence: convergence,
    per_second_during_creates: rate(creates, createSeconds),
    per_second_to_convergence: rate(convergence, convergenceSeconds),
  };
}

/** Applies by child kind and status writes (`status/<kind>`), from the metrics text. */
function writeCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^breakwater_operator_(applies|status_writes)_total\{kind="(\w+)"\} (\d+)/.exec(
      line,
    );
    if (match === null) continue;
    const key = match[1] === 'applies' ? (match[2] ?? '') : `status/${match[2] ?? ''}`;
    counts[key] = Number(match[3]);
  }
  return counts;
}

/** Counts divided by the agents, with their sum as `total`. */
function perAgent(counts: Record<string, number>, agents: number): Record<string, number> {
  const round = (n: number): number => Math.round((n / agents) * 100) / 100;
  const result: Record<string, number> = {};
  let total = 0;
  for (const [kind, n] of Object.entries(counts)) {
    result[kind] = round(n);
    total += n;
  }
  return { ...result, total: round(total) };
}

/** `breakwater_operator_reconciles_total` by kind and result, from the metrics text. */
function reconcileCounts(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^breakwater_operator_reconciles_total\{kind="(\w+)",result="(\w+)"\} (\d+)/.exec(
      line,
    );
    if (match !== null) counts[`${match[1] ?? ''}/${match[2] ?? ''}`] = Number(match[3]);
  }
  return counts;
}

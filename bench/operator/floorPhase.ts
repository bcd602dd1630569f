/**
 * The bare floor's phase of `make bench-operator` (bareFloor.ts) in its own namespace, and the
 * figure it exists for: the operator's convergence over the floor's, with the writes and the
 * CPU each way beside it (issue 53, item 7; goal ≤ 1.3).
 */
import type {
  AgentDeployment,
  CircuitBreakerPolicy,
  RateLimitPolicy,
} from '../../contract/src/api/resources.ts';
import { DEFAULT_RUNTIME_IMAGE } from '../../operator/src/builders/index.ts';
import type { KubeClient } from '../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { circuitBreakerPolicy, rateLimitPolicy } from '../../test/support/agentFixtures.ts';
import { applyObjects } from '../../test/support/breakwaterCluster.ts';
import { kubectl } from '../../test/support/kube.ts';
import { measureBareFloor, type BareResult } from './bareFloor.ts';
import { scaleAgent, statusCurrent, type ScaleResult } from './agentsAtScale.ts';
import { WatchedCache } from './watchedCache.ts';

export const FLOOR_GOAL = 1.3;

export async function bareAgents(options: {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly count: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}): Promise<BareResult> {
  const { client, namespace } = options;
  await applyObjects(namespace, circuitBreakerPolicy('shared'), rateLimitPolicy('shared'));
  const breakerPolicy = await client.get<CircuitBreakerPolicy>(
    Kinds.CircuitBreakerPolicy,
    namespace,
    'shared',
  );
  const limitPolicy = await client.get<RateLimitPolicy>(Kinds.RateLimitPolicy, namespace, 'shared');
  if (breakerPolicy === undefined || limitPolicy === undefined)
    throw new Error('the shared policies were not stored');
  const crd = await kubectl(
    ['get', 'crd', 'servicemonitors.monitoring.coreos.com', '--ignore-not-found', '-o', 'name'],
    { allowFailure: true },
  );
  const agents = new WatchedCache<AgentDeployment>(client, Kinds.AgentDeployment, { namespace });
  await agents.start();
  try {
    return await measureBareFloor({
      namespace,
      count: options.count,
      concurrency: options.concurrency,
      agent: (name) => scaleAgent(name, 'shared', 'shared'),
      breakerPolicy,
      rateLimitPolicy: limitPolicy,
      runtimeImage: DEFAULT_RUNTIME_IMAGE,
      serviceMonitorAvailable: crd.stdout.trim() !== '',
      agents,
      converged: statusCurrent,
      timeoutMs: options.timeoutMs,
      log: options.log,
    });
  } finally {
    await agents.stop();
  }
}

/** The figures of one bare run beside one operator run on the same agents. */
export interface FloorRound {
  readonly operator_over_floor: number;
  readonly converged_s: { readonly bare: number; readonly operator: number };
  /** The client's own writes per agent: the bare client's, and the bench's create plus the operator's. */
  readonly client_writes_per_agent: { readonly bare: number; readonly operator: number };
  /** Every write the API server counted from the first create to convergence, per agent. */
  readonly api_server_writes_per_agent: { readonly bare: number; readonly operator: number };
  readonly api_server_writes_per_second: { readonly bare: number; readonly operator: number };
  /** CPU seconds from the first create to convergence, by process. */
  readonly cpu_s: {
    readonly kube_apiserver: { readonly bare: number; readonly operator: number };
    readonly etcd: { readonly bare: number; readonly operator: number };
    readonly machine_total: { readonly bare: number; readonly operator: number };
    /** The writing client: the bench for the bare run, the operator process for the other. */
    readonly client: { readonly bare: number; readonly operator: number };
  };
}

const r2 = (n: number): number => Math.round(n * 100) / 100;
const sum = (a: Record<string, number>, b: Record<string, number>, key: string): number =>
  r2((a[key] ?? 0) + (b[key] ?? 0));

export function floorRound(bare: BareResult, operator: ScaleResult): FloorRound {
  const opWrites = operator.api_server_writes;
  const opApiTotal =
    (opWrites.during_creates['total'] ?? 0) + (opWrites.creates_to_convergence['total'] ?? 0);
  const opCpu = (key: string): number =>
    sum(operator.cpu_seconds.during_creates, operator.cpu_seconds.creates_to_convergence, key);
  return {
    operator_over_floor: r2(operator.converged_s / bare.converged_s),
    converged_s: { bare: bare.converged_s, operator: operator.converged_s },
    client_writes_per_agent: {
      bare: bare.writes_per_agent['total'] ?? 0,
      operator: r2(1 + (operator.writes_per_agent_at_convergence['total'] ?? 0)),
    },
    api_server_writes_per_agent: {
      bare: bare.api_server_writes.per_agent,
      operator: r2(opApiTotal / operator.agents),
    },
    api_server_writes_per_second: {
      bare: bare.api_server_writes.per_second,
      operator: Math.round(opApiTotal / operator.converged_s),
    },
    cpu_s: {
      kube_apiserver: {
        bare: bare.cpu_seconds['kube-apiserver'] ?? 0,
        operator: opCpu('kube-apiserver'),
      },
      etcd: { bare: bare.cpu_seconds['etcd'] ?? 0, operator: opCpu('etcd') },
      machine_total: { bare: bare.cpu_seconds['total'] ?? 0, operator: opCpu('total') },
      client: { bare: bare.cpu_seconds['bench'] ?? 0, operator: opCpu('operator') },
    },
  };
}

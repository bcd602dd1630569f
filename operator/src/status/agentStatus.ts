/**
 * AgentDeployment.status from what was gathered: pure, so every condition rule is a table
 * test. kstatus reads Ready / Reconciling / Stalled; the rest say which step is behind.
 */
import type {
  AgentDeployment,
  AgentDeploymentStatus,
} from '../../../contract/src/api/resources.ts';
import type { SpendLedger } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import { POLICY_HASH_ANNOTATION } from '../../../contract/src/policy/policyDocument.ts';
import {
  aggregateReplicas,
  podBreakerReport,
  summarizeReplica,
  type BreakerAggregate,
} from './breakerAggregation.ts';
import { backendStatuses, backendSummary } from './backendStatus.ts';
import {
  MCP_CONDITION,
  mcpCondition,
  mcpServerStatuses,
  mcpSummary,
  podMcpReport,
} from './mcpStatus.ts';
import { openBreakers } from './openBreakersStatus.ts';
import {
  AGENT_ENV_CONDITION,
  agentContainerStatus,
  agentEnvCondition,
} from './agentContainerStatus.ts';
import { setConditions, type Condition, type ConditionUpdate } from './conditions.ts';
import type { ModelRetirementStatus } from './modelRetirement.ts';
import { foldTrips, ledgerPod, tripTotals } from './tripLedger.ts';
import type { SpendPolicy } from '../spend/spendLedger.ts';
import { agentSpend, type BudgetRow } from '../spend/spendStatus.ts';
import {
  BUDGET_CONDITIONS,
  MODELS_PRICED,
  budgetConditions,
  pricingCondition,
} from '../spend/budgetConditions.ts';
import { DURABILITY_CONDITION, durabilityCondition } from './durabilityCondition.ts';
import { foldRuns, runLedgerPod, runsStatus } from './runLedger.ts';
import type { PodView, DeploymentView } from './views.ts';

export interface AgentStatusInputs {
  readonly agent: AgentDeployment;
  readonly deployment: DeploymentView | undefined;
  /** The agent's pods that are not terminating. */
  readonly pods: readonly PodView[];
  /**
   * Every pod the API server holds for the agent, terminating ones included: the trip ledger
   * moves a pod's trips into its baseline only once the pod is gone.
   */
  readonly presentPods: readonly PodView[];
  readonly policyHash: string;
  /** Human-readable names of referenced objects that do not exist ("CircuitBreakerPolicy prod"). */
  readonly missing: readonly string[];
  readonly monitoring: 'NotRequested' | 'Configured' | 'CRDMissing';
  /** Whether its model or a fallback is retiring, evaluated at `now`. */
  readonly modelRetirement: ModelRetirementStatus;
  /** Condition ScaleOutHeld, evaluated by scaleOutHold.ts. */
  readonly scaleOutHold: ConditionUpdate;
  readonly selector: string;
  /** Its RateLimitPolicy's budgets and time zone; undefined without budgets. */
  readonly spend?: SpendPolicy | undefined;
  /**
   * Its RateLimitPolicy's team budgets (per Policy), every agent on it together
   * (teamReplicas.ts): its conditions judge these, not its own part of them.
   */
  readonly teamRows?: readonly BudgetRow[];
  /**
   * Why the policy document refuses its own check (what every replica says when it refuses
   * it and keeps its last good one); undefined when it passes. Spend figures are then kept as
   * they were: they are counted under the last good policy, which the replicas still run.
   */
  readonly invalidPolicy?: string | undefined;
  /**
   * Why the operator rolls nothing out (policyGather's `forbidden`: the agent container reads
   * its store's password); empty or unset when it does.
   */
  readonly forbidden?: readonly string[] | undefined;
  /** Its CircuitBreakerPolicy's mode: under Shadow, an open breaker refuses nothing. */
  readonly breakerMode?: 'Enforce' | 'Shadow' | undefined;
  /** RFC 3339 now, for condition transitions. */
  readonly now: string;
}

/** The reason of PoliciesResolved, Stalled and Ready while the agent reads a store's password. */
export const STORE_SECRET_READ = 'StoreSecretReadByAgent';

/** What PoliciesResolved and the Warning Event say while the operator holds the agent back. */
export function forbiddenMessage(forbidden: readonly string[]): string {
  return `nothing is rolled out and the running pods stay as they were until this is fixed: ${forbidden.join('; ')}`;
}

export function isPodReady(pod: PodView): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export const runningPods = (pods: readonly PodView[]): PodView[] =>
  pods.filter((p) => p.status?.phase === 'Running');

/** Breaker aggregate over the agent's running pods. */
export function agentBreakers(pods: readonly PodView[]): BreakerAggregate {
  return aggregateReplicas(runningPods(pods).map((p) => summarizeReplica(podBreakerReport(p))));
}

export function computeAgentStatus(inputs: AgentStatusInputs): AgentDeploymentStatus {
  const { agent, deployment, pods } = inputs;
  const generation = agent.metadata.generation ?? 0;
  const desired =
    agent.spec.autoscaling === undefined
      ? (agent.spec.replicas ?? 1)
      : (deployment?.spec?.replicas ?? agent.spec.autoscaling.minReplicas ?? 1);
  const replicas = deployment?.status?.replicas ?? 0;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const updated = deployment?.status?.updatedReplicas ?? 0;
  const running = runningPods(pods);
  const applied = running.filter(
    (p) => p.metadata?.annotations?.[POLICY_HASH_ANNOTATION] === inputs.policyHash,
  ).length;
  const breakers = agentBreakers(pods);
  const backends = backendStatuses(
    agent,
    running.map((p) => podBreakerReport(p)),
  );
  const mcpReplicas = running.map((p) => ({ mcp: podMcpReport(p), breakers: podBreakerReport(p) }));
  const mcpServers = mcpServerStatuses(agent, mcpReplicas);
  const agentContainer = agentContainerStatus(agent, running);
  const agentEnv = agentEnvCondition(agent);
  const tripLedger = foldTrips(
    agent.status?.breaker?.tripLedger,
    inputs.presentPods.map(ledgerPod),
  );
  const { trips, lastTripTime } = tripTotals(tripLedger);
  const invalid = inputs.invalidPolicy;
  const spend =
    inputs.spend === undefined || invalid !== undefined
      ? undefined
      : agentSpend(agent, inputs.presentPods, inputs.spend, Date.parse(inputs.now));
  const priced =
    inputs.spend === undefined || invalid !== undefined
      ? undefined
      : pricingCondition(inputs.spend.budgets, [agent]);
  const runs = runsOf(agent, inputs.presentPods);
  const durable = durabilityCondition(agent, pods);
  const memory = openBreakers(
    runningPods(inputs.presentPods),
    Date.parse(inputs.now),
    agent.status?.breaker?.openBreakers,
  );

  const deploymentCurrent =
    deployment !== undefined &&
    (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 0);
  const rolledOut =
    deploymentCurrent && updated >= desired && ready >= desired && replicas <= desired;
  const progressDeadlineExceeded =
    deployment?.status?.conditions?.some(
      (c) =>
        c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    ) ?? false;
  const resolved = inputs.missing.length === 0;
  // Ready replicas alone can read 1/1 while the new one cannot start: say how many run the
  // current spec as well.
  const rollingOut = `${updated}/${desired} replicas updated, ${ready}/${desired} ready`;
  const policiesApplied = applied >= running.length && (running.length > 0 || desired === 0);

  const forbidden = inputs.forbidden ?? [];
  const held: ConditionUpdate | undefined =
    forbidden.length === 0
      ? undefined
      : {
          type: 'PoliciesResolved',
          status: 'False',
          reason: STORE_SECRET_READ,
          message: forbiddenMessage(forbidden),
        };

  const updates: ConditionUpdate[] = [
    held !== undefined
      ? held
      : resolved
        ? {
            type: 'PoliciesResolved',
            status: 'True',
            reason: 'Resolved',
            message: 'every referenced policy exists',
          }
        : {
            type: 'PoliciesResolved',
            status: 'False',
            reason: 'PolicyNotFound',
            message: `not found: ${inputs.missing.join(', ')}; running with defaults for it until it exists`,
          },
    held !== undefined
      ? {
          type: 'PoliciesApplied',
          status: 'False',
          reason: STORE_SECRET_READ,
          message: `policy ${inputs.policyHash} is not rolled out (see PoliciesResolved); ${applied}/${running.length} replicas run it`,
        }
      : invalid !== undefined
        ? {
            type: 'PoliciesApplied',
            status: 'False',
            reason: 'Invalid',
            message: `the replicas refuse policy ${inputs.policyHash} and keep their last good one: ${invalid}`,
          }
        : policiesApplied
          ? {
              type: 'PoliciesApplied',
              status: 'True',
              reason: 'Applied',
              message: `${applied}/${running.length} replicas run policy ${inputs.policyHash}`,
            }
          : {
              type: 'PoliciesApplied',
              status: 'False',
              reason: 'Propagating',
              message: `${applied}/${running.length} replicas run policy ${inputs.policyHash}`,
            },
    monitoringCondition(inputs.monitoring),
    inputs.modelRetirement.condition,
    inputs.scaleOutHold,
    ...(mcpServers === undefined ? [] : [mcpCondition(mcpServers, mcpReplicas)]),
    ...(agentEnv === undefined ? [] : [agentEnv]),
    ...(spend === undefined
      ? []
      : budgetConditions([
          ...spend.rows.filter((r) => r.settings.per !== 'Policy'),
          ...(inputs.teamRows ?? []),
        ])),
    ...(priced === undefined ? [] : [priced]),
    ...(durable === undefined ? [] : [durable]),
    held !== undefined
      ? { ...held, type: 'Stalled', status: 'True' }
      : progressDeadlineExceeded || !resolved
        ? {
            type: 'Stalled',
            status: 'True',
            reason: resolved ? 'ProgressDeadlineExceeded' : 'PolicyNotFound',
            message: resolved
              ? 'the Deployment stopped making progress'
              : `not found: ${inputs.missing.join(', ')}`,
          }
        : { type: 'Stalled', status: 'False', reason: 'Progressing', message: '' },
    rolledOut
      ? { type: 'Reconciling', status: 'False', reason: 'RolledOut', message: '' }
      : {
          type: 'Reconciling',
          status: 'True',
          reason: 'RollingOut',
          message: rollingOut,
        },
    held !== undefined
      ? { ...held, type: 'Ready' }
      : rolledOut && resolved
        ? {
            type: 'Ready',
            status: 'True',
            reason: 'Available',
            message: `${ready}/${desired} replicas ready`,
          }
        : {
            type: 'Ready',
            status: 'False',
            reason: resolved ? 'RollingOut' : 'PolicyNotFound',
            message: resolved ? rollingOut : `not found: ${inputs.missing.join(', ')}`,
          },
  ];
  const conditions: Condition[] = setConditions(
    // Without MCP servers, no condition about them (removing the last one drops it), and
    // likewise without an agent container.
    agent.status?.conditions?.filter(
      (c) =>
        (mcpServers !== undefined || c.type !== MCP_CONDITION) &&
        (agentEnv !== undefined || c.type !== AGENT_ENV_CONDITION) &&
        (spend !== undefined || invalid !== undefined || !BUDGET_CONDITIONS.includes(c.type)) &&
        (priced !== undefined || invalid !== undefined || c.type !== MODELS_PRICED) &&
        (durable !== undefined || c.type !== DURABILITY_CONDITION),
    ),
    updates,
    generation,
    inputs.now,
  );
  return {
    observedGeneration: generation,
    conditions,
    replicas,
    readyReplicas: ready,
    readySummary: `${ready}/${desired}`,
    selector: inputs.selector,
    policy: { hash: inputs.policyHash, appliedReplicas: applied },
    breaker: {
      state: breakers.state,
      ...(inputs.breakerMode === undefined ? {} : { mode: inputs.breakerMode }),
      open: breakers.open,
      total: breakers.total,
      unknown: breakers.unknown,
      trips,
      ...(lastTripTime === undefined ? {} : { lastTripTime }),
      openBreakers: memory,
      tripLedger,
    },
    ...(backends === undefined ? {} : { backends, backendSummary: backendSummary(backends) }),
    ...(mcpServers === undefined ? {} : { mcpServers, mcpSummary: mcpSummary(mcpServers) }),
    ...(agentContainer === undefined ? {} : { agent: agentContainer }),
    ...(spend !== undefined
      ? { spend: spend.status }
      : invalid !== undefined && agent.status?.spend !== undefined
        ? { spend: agent.status.spend }
        : dormantLedger(agent.status?.spend?.ledger, Date.parse(inputs.now))),
    ...(runs === undefined ? {} : { runs }),
    ...(inputs.modelRetirement.endOfLife === undefined
      ? {}
      : { modelEndOfLife: inputs.modelRetirement.endOfLife }),
  };
}

/**
 * `status.runs` with durability; without it, none — unless an earlier ledger holds counts,
 * which are kept (a run's history does not vanish because durability was turned off a while).
 */
function runsOf(
  agent: AgentDeployment,
  presentPods: readonly PodView[],
): AgentDeploymentStatus['runs'] {
  const previous = agent.status?.runs?.ledger;
  if (agent.spec.durability === undefined && previous === undefined) return undefined;
  const pods = presentPods.map(runLedgerPod);
  return runsStatus(foldRuns(previous, pods), pods);
}

function monitoringCondition(monitoring: AgentStatusInputs['monitoring']): ConditionUpdate {
  switch (monitoring) {
    case 'Configured':
      return {
        type: 'MonitoringConfigured',
        status: 'True',
        reason: 'ServiceMonitorApplied',
        message: '',
      };
    case 'CRDMissing':
      return {
        type: 'MonitoringConfigured',
        status: 'False',
        reason: 'ServiceMonitorCRDMissing',
        message:
          'monitoring.coreos.com/v1 ServiceMonitor is not installed; one is created when it is',
      };
    case 'NotRequested':
      return { type: 'MonitoringConfigured', status: 'True', reason: 'NotRequested', message: '' };
  }
}

/** The longest budget period, a month, and a day of margin for time zones. */
const LONGEST_PERIOD_MS = 32 * 86_400_000;

/**
 * Without budgets, the ledger stays as it was while a period it counts may still run: budgets
 * put back (an edit undone, the agent switched to another policy and back) go on from what
 * was spent, on replicas that restarted in between too, as their runtime keeps its own.
 */
function dormantLedger(
  ledger: SpendLedger | undefined,
  nowMs: number,
): { spend?: { ledger: SpendLedger } } {
  if (ledger === undefined) return {};
  const starts = [
    ...(ledger.baseline ?? []),
    ...(ledger.processes ?? []).flatMap((p) => p.budgets ?? []),
  ].map((b) => Date.parse(b.periodStart));
  const recent = starts.some(
    (start) => Number.isFinite(start) && nowMs - start < LONGEST_PERIOD_MS,
  );
  return recent ? { spend: { ledger } } : {};
}

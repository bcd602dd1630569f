/**
 * Each backend's breaker state over the agent's replicas, from the same pod reports the
 * agent's breaker state comes from (breakerAggregation.ts), narrowed to the backend's own
 * provider breakers, `<backend>/<model>`. So an outage of one backend (Anthropic Open on
 * every replica while Bedrock serves) shows per backend, where the agent's aggregate only
 * says that some breaker is open.
 */
import type { AgentDeployment, BackendStatus } from '../../../contract/src/api/resources.ts';
import { AGENT_DEPLOYMENT_LIMITS as AGENT } from '../../../contract/src/api/specLimits.ts';
import type { BreakerReport } from '../../../contract/src/reporting/breakerReport.ts';
import { aggregateReplicas, summarizeReplica } from './breakerAggregation.ts';

/**
 * One entry per `spec.backends[]`, in spec order; undefined without `spec.backends`, where
 * the agent's breaker state is the one provider's. `reports` holds one per running replica,
 * undefined for a replica that has not reported yet.
 */
export function backendStatuses(
  agent: Readonly<AgentDeployment>,
  reports: readonly (BreakerReport | undefined)[],
): BackendStatus[] | undefined {
  const { backends } = agent.spec;
  if (backends === undefined || backends.length === 0) return undefined;
  return backends.map((backend) => {
    const replicas = aggregateReplicas(
      reports.map((report) => summarizeReplica(report && backendBreakers(report, backend.name))),
    );
    return {
      name: backend.name,
      type: backend.type ?? AGENT['backends[].type'].default,
      state: replicas.state,
      openReplicas: replicas.open,
      replicas: replicas.total,
    };
  });
}

/** `anthropic Open 3/3, bedrock-us Closed 0/3`: open replicas over running ones. */
export function backendSummary(backends: readonly BackendStatus[]): string {
  return backends
    .map((b) => `${b.name} ${b.state} ${String(b.openReplicas)}/${String(b.replicas)}`)
    .join(', ');
}

/** The report's breakers of one backend (providerBreakerName: `<backend>/<model>`). */
function backendBreakers(report: BreakerReport, backend: string): BreakerReport {
  const prefix = `${backend}/`;
  return Object.fromEntries(Object.entries(report).filter(([name]) => name.startsWith(prefix)));
}

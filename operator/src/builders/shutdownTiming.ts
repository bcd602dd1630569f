/**
 * How an agent's pod stops: serve on for the drain delay while endpoints, kube-proxy and
 * ingresses stop sending to it, refuse new requests, let the calls in flight finish, exit.
 * The pod's grace period covers all of it unless the agent fixes one; beside the team's own
 * agent (`spec.agent`) it covers the agent's shutdown first, then the runtime's.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { parseDuration } from '../../../contract/src/api/duration.ts';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';

/** The schema's default for `spec.terminationDrainDuration` (a test holds them equal). */
export const DEFAULT_TERMINATION_DRAIN_DURATION = '5s';
/** Time the runtime keeps, after the calls in flight, to close its servers and exit. */
export const EXIT_MARGIN_MS = 2_000;

export interface ShutdownTiming {
  /** `--drain-delay-ms`: serving on after SIGTERM, readiness failing. */
  readonly drainDelayMs: number;
  /** `--shutdown-grace-ms`: what the calls in flight then get. */
  readonly inFlightGraceMs: number;
  /** The pod's, from SIGTERM to SIGKILL. */
  readonly terminationGracePeriodSeconds: number;
}

export function shutdownTiming(
  agent: Readonly<AgentDeployment>,
  doc: Readonly<PolicyDocument>,
): ShutdownTiming {
  const podDrainMs = parseDuration(
    agent.spec.terminationDrainDuration ?? DEFAULT_TERMINATION_DRAIN_DURATION,
  );
  const callMs = longestCallMs(doc);
  const own = agent.spec.agent;
  // With the team's own agent (a native sidecar pod) the agent stops first: it drains and
  // finishes its last call through the runtime, which the kubelet stops only once the agent
  // has exited. The runtime then drains only if the Service still reaches it (no agent port).
  const serviceReachesRuntime = (own?.ports ?? []).length === 0;
  const drainDelayMs = serviceReachesRuntime ? podDrainMs : 0;
  const beforeRuntimeExitMs =
    own === undefined ? drainDelayMs + callMs : podDrainMs + callMs + EXIT_MARGIN_MS + drainDelayMs;
  const terminationGracePeriodSeconds =
    agent.spec.terminationGracePeriodSeconds ??
    Math.ceil((beforeRuntimeExitMs + EXIT_MARGIN_MS) / 1000);
  return {
    drainDelayMs,
    inFlightGraceMs: Math.max(
      0,
      terminationGracePeriodSeconds * 1000 - drainDelayMs - EXIT_MARGIN_MS,
    ),
    terminationGracePeriodSeconds,
  };
}

/**
 * The longest a call admitted at the end of the drain delay can take: for the primary model
 * and each fallback, every attempt to its timeout with the longest backoff before each retry,
 * and the whole of a stream when `maxStreamDuration` bounds it. Waits the guard adds before
 * an attempt (a rate-limit `maxWait`, a bulkhead queue, a provider's `retry-after`) are not
 * counted: the first two are the shared policies' and would tie the pods' grace period to them.
 */
export function longestCallMs(doc: Readonly<PolicyDocument>): number {
  const { maxAttempts, initialDelayMs, maxDelayMs } = doc.retry;
  let perModel = maxAttempts * doc.timeoutMs;
  for (let retry = 1; retry < maxAttempts; retry++)
    perModel += Math.min(maxDelayMs, initialDelayMs * 2 ** (retry - 1));
  const models = 1 + doc.model.fallbacks.length;
  return models * perModel + (doc.maxStreamDurationMs ?? 0);
}

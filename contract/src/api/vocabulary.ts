/**
 * The names the operator and the runtime both use — failure classes, policy modes, override
 * and breaker states — each taken from its one declaration, the schema (through the generated
 * types and specLimits.ts), so neither side can spell a set of its own.
 */
import { CIRCUIT_BREAKER_POLICY_LIMITS, COMMON_ENUMS } from './specLimits.ts';
import type { BreakerOverride, ErrorClass } from './v1alpha1/circuitbreakerpolicy.ts';
import type { AgentDeploymentSpec, SecuritySpec } from './v1alpha1/agentdeployment.ts';
import type { BreakerState, PolicyMode } from './v1alpha1/common.ts';
import type { RateLimitPolicySpec } from './v1alpha1/ratelimitpolicy.ts';

export type { BreakerState, PolicyMode };

/** How calls are spread over backends (`spec.loadBalancing`). */
export type LoadBalancing = NonNullable<AgentDeploymentSpec['loadBalancing']>;
/** Whose numbers a RateLimitPolicy states (`spec.scope`). */
export type RateLimitScope = NonNullable<RateLimitPolicySpec['scope']>;
/** What a call over the limit gets (`spec.onLimit`). */
export type OnLimit = NonNullable<RateLimitPolicySpec['onLimit']>;
/** What the prompt-injection screen does (`spec.security.promptInjection`). */
export type InjectionMode = NonNullable<SecuritySpec['promptInjection']>;

/** The classes a breaker can count (`failOn`). */
export type FailureClass = ErrorClass;
export const FAILURE_CLASSES: readonly FailureClass[] =
  CIRCUIT_BREAKER_POLICY_LIMITS['failOn[]'].enum;

/** The on-call switch: Auto, or a breaker forced open or closed. */
export type OverrideState = NonNullable<BreakerOverride['state']>;

/**
 * One breaker's automatic states. Degraded (some replicas open) and Unknown (none has
 * reported) are only ever said of replicas, never by a breaker.
 */
export type AutoBreakerState = Exclude<BreakerState, 'Degraded' | 'Unknown'>;

/** What one breaker reports: its automatic state, or the override in force. */
export type ReportedBreakerState = AutoBreakerState | Exclude<OverrideState, 'Auto'>;

export const REPORTED_BREAKER_STATES: readonly ReportedBreakerState[] = [
  ...COMMON_ENUMS.BreakerState.filter(
    (s): s is AutoBreakerState => s !== 'Degraded' && s !== 'Unknown',
  ),
  ...CIRCUIT_BREAKER_POLICY_LIMITS['override.state'].enum.filter(
    (s): s is Exclude<OverrideState, 'Auto'> => s !== 'Auto',
  ),
];

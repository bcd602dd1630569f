/**
 * The Breakwater resources as whole objects: the generated spec and status types
 * (./v1alpha1, from crds/schemas) with apiVersion, kind and metadata around them.
 * The operator and the runtime import the API from here.
 */
import type { ObjectMeta } from '../../../platform/src/kube/kubeObject.ts';
import type {
  AgentDeploymentSpec,
  AgentDeploymentStatus,
  CircuitBreakerPolicySpec,
  CircuitBreakerPolicyStatus,
  RateLimitPolicySpec,
  RateLimitPolicyStatus,
} from './v1alpha1/index.ts';
import { GROUP_VERSION } from './group.ts';

export type * from './v1alpha1/index.ts';
export { API_CATEGORY, API_GROUP, API_VERSION, GROUP_VERSION } from './group.ts';

interface Resource<Kind extends string, Spec, Status> {
  apiVersion: typeof GROUP_VERSION;
  kind: Kind;
  metadata: ObjectMeta;
  spec: Spec;
  /** Written by the operator only. */
  status?: Status;
}

export type AgentDeployment = Resource<
  'AgentDeployment',
  AgentDeploymentSpec,
  AgentDeploymentStatus
>;
export type CircuitBreakerPolicy = Resource<
  'CircuitBreakerPolicy',
  CircuitBreakerPolicySpec,
  CircuitBreakerPolicyStatus
>;
export type RateLimitPolicy = Resource<
  'RateLimitPolicy',
  RateLimitPolicySpec,
  RateLimitPolicyStatus
>;

export type BreakwaterResource = AgentDeployment | CircuitBreakerPolicy | RateLimitPolicy;

/** Names of each kind, as its CRD declares them (a unit test holds them to crds/schemas). */
export const ApiKinds = {
  AgentDeployment: { kind: 'AgentDeployment', plural: 'agentdeployments', shortName: 'agd' },
  CircuitBreakerPolicy: {
    kind: 'CircuitBreakerPolicy',
    plural: 'circuitbreakerpolicies',
    shortName: 'cbp',
  },
  RateLimitPolicy: { kind: 'RateLimitPolicy', plural: 'ratelimitpolicies', shortName: 'rlp' },
} as const;

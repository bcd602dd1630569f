/**
 * The kinds Breakwater reads or writes, and how each maps to a REST path. A static table
 * instead of discovery: the set is small and known, and a typo becomes a compile error.
 */
export interface ResourceKind {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

function kindOf(apiVersion: string, kind: string, plural: string, namespaced = true): ResourceKind {
  return { apiVersion, kind, plural, namespaced };
}

export const Kinds = {
  Namespace: kindOf('v1', 'Namespace', 'namespaces', false),
  ConfigMap: kindOf('v1', 'ConfigMap', 'configmaps'),
  Secret: kindOf('v1', 'Secret', 'secrets'),
  Pod: kindOf('v1', 'Pod', 'pods'),
  Service: kindOf('v1', 'Service', 'services'),
  ServiceAccount: kindOf('v1', 'ServiceAccount', 'serviceaccounts'),
  Event: kindOf('v1', 'Event', 'events'),
  Deployment: kindOf('apps/v1', 'Deployment', 'deployments'),
  Role: kindOf('rbac.authorization.k8s.io/v1', 'Role', 'roles'),
  RoleBinding: kindOf('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'),
  HorizontalPodAutoscaler: kindOf(
    'autoscaling/v2',
    'HorizontalPodAutoscaler',
    'horizontalpodautoscalers',
  ),
  PodDisruptionBudget: kindOf('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  NetworkPolicy: kindOf('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies'),
  Lease: kindOf('coordination.k8s.io/v1', 'Lease', 'leases'),
  ServiceMonitor: kindOf('monitoring.coreos.com/v1', 'ServiceMonitor', 'servicemonitors'),
  CustomResourceDefinition: kindOf(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
  AgentDeployment: kindOf('breakwater.dev/v1alpha1', 'AgentDeployment', 'agentdeployments'),
  CircuitBreakerPolicy: kindOf(
    'breakwater.dev/v1alpha1',
    'CircuitBreakerPolicy',
    'circuitbreakerpolicies',
  ),
  RateLimitPolicy: kindOf('breakwater.dev/v1alpha1', 'RateLimitPolicy', 'ratelimitpolicies'),
} as const satisfies Record<string, ResourceKind>;

export interface ResourcePathParts {
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
  readonly subresource?: string | undefined;
}

/** `/api/v1/namespaces/ns/configmaps/name` or `/apis/group/version/...`; namespace omitted lists across all. */
export function resourcePath(kind: ResourceKind, parts: ResourcePathParts = {}): string {
  const base = kind.apiVersion.includes('/')
    ? `/apis/${kind.apiVersion}`
    : `/api/${kind.apiVersion}`;
  const scope =
    kind.namespaced && parts.namespace !== undefined
      ? `/namespaces/${encodeURIComponent(parts.namespace)}`
      : '';
  let path = `${base}${scope}/${kind.plural}`;
  if (parts.name !== undefined) path += `/${encodeURIComponent(parts.name)}`;
  if (parts.subresource !== undefined) path += `/${parts.subresource}`;
  return path;
}

/**
 * The label that names an agent's pods: the operator sets it (and selects on it), the demo,
 * the tests and `kubectl` users select on it. The selector of a Deployment is immutable, so
 * this name can never change.
 */
export const AGENT_LABEL = 'breakwater.dev/agent';

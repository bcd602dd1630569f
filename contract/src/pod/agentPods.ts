/**
 * How an agent's pods are found from outside the operator (`kubectl breakwater`): the label
 * that names their agent, and the port that serves /metrics and /debug. The operator's
 * builders put them there from these same names.
 */

/** On every child of an AgentDeployment, its name; the Deployment selects its pods by it. */
export const AGENT_LABEL = 'breakwater.dev/agent';
/** The runtime container's port serving /metrics and /debug/* (no client key asked there). */
export const METRICS_PORT_NAME = 'metrics';

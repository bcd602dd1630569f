/**
 * The runtime container's port that serves /metrics and /debug/* (no client key asked
 * there): the operator's builders name it so, and `kubectl breakwater top` finds it by this
 * name to read a pod's /debug/stats through the API server's pod proxy.
 */
export const METRICS_PORT_NAME = 'metrics';

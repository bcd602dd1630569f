/**
 * The runtime container's ports, declared once: the operator's Deployment, Service,
 * NetworkPolicy and ServiceMonitor refer to them by name, and the runtime listens on the
 * numbers unless told otherwise (--port, --metrics-port).
 */
export const HTTP_PORT_NAME = 'http';
export const HTTP_PORT = 8080;
/**
 * The port that serves /metrics and /debug/* (no client key asked there): `kubectl breakwater
 * top` finds it by this name to read a pod's /debug/stats through the API server's pod proxy.
 */
export const METRICS_PORT_NAME = 'metrics';
export const METRICS_PORT = 9090;

/**
 * The runtime's ports, shared by the Deployment, Service, NetworkPolicy and ServiceMonitor,
 * which refer to them by name so that a number changes in one place.
 */
export const HTTP_PORT_NAME = 'http';
export { METRICS_PORT_NAME } from '../../../contract/src/pod/runtimePorts.ts';
export const HTTP_PORT = 8080;
export const METRICS_PORT = 9090;
/** The Service's HTTP port: callers use the plain service URL, without a port. */
export const SERVICE_HTTP_PORT = 80;

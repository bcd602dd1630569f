/**
 * What the operator injects into the team's own agent container (`spec.agent`) and the runtime
 * beside it accepts: the agent reaches the runtime on the pod's loopback with a per-pod client
 * key. Both sides import these, so a rename cannot reach one side only.
 */
import { HTTP_PORT } from './runtimePorts.ts';

/** The Anthropic SDKs' own variables (Python `anthropic`, TypeScript `@anthropic-ai/sdk`). */
export const ANTHROPIC_BASE_URL_ENV = 'ANTHROPIC_BASE_URL';
export const ANTHROPIC_API_KEY_ENV = 'ANTHROPIC_API_KEY';
/** The pod's metadata.uid, from the downward API: what the per-pod key is made of. */
export const POD_UID_ENV = 'BREAKWATER_POD_UID';
/**
 * The runtime's copy of the per-pod key. Accepted only on connections from the loopback
 * address, so only from inside the pod: the uid is no secret (whoever may get the pod reads
 * it), the pod's network namespace is the boundary.
 */
export const POD_CLIENT_KEY_ENV = 'BREAKWATER_POD_CLIENT_KEY';
/** The per-pod key, with `$(BREAKWATER_POD_UID)` expanded by the kubelet in each container. */
export const POD_CLIENT_KEY_VALUE = `breakwater-pod-$(${POD_UID_ENV})`;

/** The runtime's API as the agent container reaches it: the pod's own loopback. */
export const RUNTIME_LOOPBACK_URL = `http://127.0.0.1:${String(HTTP_PORT)}`;

/** `BREAKWATER_MCP_<NAME>_URL` for MCP server `name` (a DNS label: `-` becomes `_`). */
export function mcpUrlEnv(server: string): string {
  return `BREAKWATER_MCP_${server.toUpperCase().replaceAll('-', '_')}_URL`;
}

/** Where the runtime serves MCP server `name` to the agent: `/mcp/<name>` on loopback. */
export function mcpLoopbackUrl(server: string): string {
  return `${RUNTIME_LOOPBACK_URL}/mcp/${server}`;
}

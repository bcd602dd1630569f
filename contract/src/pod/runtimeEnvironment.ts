/**
 * What the operator puts into a runtime pod and the runtime reads back: environment variable
 * names and mount paths. Both sides import them from here, so a rename cannot reach one side only.
 */

/** The agent's name (the runtime's `--agent` default). */
export const AGENT_ENV = 'BREAKWATER_AGENT';
/** The pod's own name, from the downward API: the key of its breaker report. */
export const POD_NAME_ENV = 'POD_NAME';
/** The pod's namespace, from the downward API (the runtime's `--namespace` default). */
export const POD_NAMESPACE_ENV = 'POD_NAMESPACE';
// The local test node replaces these two with ports it allocates; clusters use the values.
export const HTTP_PORT_ENV = 'PORT_HTTP';
export const METRICS_PORT_ENV = 'PORT_METRICS';
/** Where the operator mounts the client-keys Secret (one file per key). */
export const CLIENT_KEYS_MOUNT_PATH = '/var/run/secrets/breakwater.dev/client-keys';
/** Names the directory of client-key files; set only when the agent has a client-keys Secret. */
export const CLIENT_KEYS_DIR_ENV = 'BREAKWATER_CLIENT_KEYS_DIR';
/** Standalone mode's client keys, comma-separated. */
export const CLIENT_KEYS_ENV = 'BREAKWATER_CLIENT_KEYS';
/**
 * Where the operator mounts the rate-limit store's Secrets (RateLimitPolicy spec.store.redis):
 * the password as `auth/password`, the TLS authority as `tls/ca.crt`, the sentinels' own
 * password as `sentinel-auth/password`, each a Secret volume of its own (they may come from
 * several Secrets), like the client keys: the runtime never reads Secrets through the API.
 */
export const RATE_LIMIT_STORE_MOUNT_PATH = '/var/run/secrets/breakwater.dev/rate-limit-store';
export const RATE_LIMIT_STORE_PASSWORD_FILE = 'auth/password';
export const RATE_LIMIT_STORE_CA_FILE = 'tls/ca.crt';
export const RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE = 'sentinel-auth/password';
/** Name the files; set by the operator with the mounts, or by hand in standalone mode. */
export const RATE_LIMIT_STORE_PASSWORD_FILE_ENV = 'BREAKWATER_RATE_LIMIT_STORE_PASSWORD_FILE';
export const RATE_LIMIT_STORE_CA_FILE_ENV = 'BREAKWATER_RATE_LIMIT_STORE_CA_FILE';
export const RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV =
  'BREAKWATER_RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE';
/**
 * Where the operator mounts a Bedrock or Vertex backend's `credentialsSecretRef`: one Secret
 * volume per backend at `<root>/<backend name>`, in the runtime container only. The runtime
 * re-reads the files when they change (the kubelet swaps a rotated Secret in), so new keys
 * sign the next call without a restart.
 */
export const BACKEND_CREDENTIALS_MOUNT_PATH = '/var/run/secrets/breakwater.dev/backends';
/** Another root for the backends' credential directories (standalone mode, tests). */
export const BACKEND_CREDENTIALS_DIR_ENV = 'BREAKWATER_BACKEND_CREDENTIALS_DIR';
/** The files a Bedrock backend's Secret holds (the AWS variables' names). */
export const AWS_CREDENTIAL_KEYS = {
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
} as const;
/** The file a Vertex backend's Secret holds: a service-account or external-account JSON. */
export const VERTEX_CREDENTIALS_KEY = 'credentials.json';
/**
 * Where the operator mounts an MCP server's `headersSecretRef`: one Secret volume per server at
 * `<root>/<server name>`, each file a header (its name the file's), in the runtime container
 * only, re-read when it changes.
 */
export const MCP_HEADERS_MOUNT_PATH = '/var/run/secrets/breakwater.dev/mcp';
/** Another root for the MCP servers' header directories (standalone mode, tests). */
export const MCP_HEADERS_DIR_ENV = 'BREAKWATER_MCP_HEADERS_DIR';
/**
 * Where the operator mounts AgentDeployment `durability`'s Secrets, in the runtime container
 * only: the journal's encryption key as `key/key`, the journal store's password and TLS
 * authority as `auth/password` and `tls/ca.crt`, its sentinels' password as
 * `sentinel-auth/password`, each a Secret volume of its own.
 */
export const DURABILITY_MOUNT_PATH = '/var/run/secrets/breakwater.dev/durability';
export const DURABILITY_KEY_FILE = 'key/key';
export const DURABILITY_PASSWORD_FILE = 'auth/password';
export const DURABILITY_CA_FILE = 'tls/ca.crt';
export const DURABILITY_SENTINEL_PASSWORD_FILE = 'sentinel-auth/password';
/** Name the files; set by the operator with the mounts, or by hand in standalone mode. */
export const DURABILITY_KEY_FILE_ENV = 'BREAKWATER_DURABILITY_KEY_FILE';
export const DURABILITY_PASSWORD_FILE_ENV = 'BREAKWATER_DURABILITY_PASSWORD_FILE';
export const DURABILITY_CA_FILE_ENV = 'BREAKWATER_DURABILITY_CA_FILE';
export const DURABILITY_SENTINEL_PASSWORD_FILE_ENV = 'BREAKWATER_DURABILITY_SENTINEL_PASSWORD_FILE';

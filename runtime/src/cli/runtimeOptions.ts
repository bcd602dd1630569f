/** Command-line flags of `breakwater-runtime`, checked into options; errors name the flag. */
import { parseArgs } from 'node:util';
import {
  AGENT_ENV,
  CLIENT_KEYS_DIR_ENV,
  HTTP_PORT_ENV,
  METRICS_PORT_ENV,
  POD_NAMESPACE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import { HTTP_PORT, METRICS_PORT } from '../../../contract/src/pod/runtimePorts.ts';
import { LOG_LEVELS, type LogLevel } from '../telemetry/logger.ts';

export type PolicySourceOption =
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'manifests';
      readonly path: string;
      /** The AgentDeployment to run when the manifests hold several. */
      readonly agent?: string;
    }
  | {
      readonly kind: 'cluster';
      readonly agent: string;
      readonly namespace: string;
      /** Where the client-keys Secret is mounted; undefined when the pod mounts none. */
      readonly clientKeysDir?: string;
    };

export interface RuntimeOptions {
  readonly port: number;
  readonly metricsPort: number;
  readonly host: string;
  readonly source: PolicySourceOption;
  readonly logLevel: LogLevel;
  /**
   * How long requests go on being served after SIGTERM, readiness failing, while the
   * endpoints that send them stop doing so.
   */
  readonly drainDelayMs: number;
  /** How long in-flight requests may take to finish once new ones are refused. */
  readonly shutdownGraceMs: number;
  /**
   * How long the provider keeps a prompt prefix cached for five minutes: how long a
   * conversation's pin lasts (cache affinity). Tests shorten it, with the simulator's.
   */
  readonly promptCacheTtlMs: number;
}

export const USAGE = `Usage: breakwater-runtime [flags]

The Breakwater agent runtime: an Anthropic Messages API endpoint guarded by circuit breakers,
rate limits, bulkheads, timeouts and retries, with hot-reloaded policy.

Policy source (one of):
  --policy FILE         a resolved policy.json, reloaded when it changes
  --manifests PATH      AgentDeployment / CircuitBreakerPolicy / RateLimitPolicy YAML (file or dir),
                        with the Secrets they name (provider key, client keys); with several
                        AgentDeployments, --agent NAME picks one
  --agent NAME          cluster mode: watch ConfigMap NAME-policy (default $BREAKWATER_AGENT)
  --namespace NS        cluster mode namespace (default $POD_NAMESPACE, else "default")
  --client-keys-dir DIR cluster mode: the mounted client-keys Secret, one key per file, watched
                        (default $BREAKWATER_CLIENT_KEYS_DIR)

  --port N              API port (default $PORT_HTTP, else ${HTTP_PORT})
  --metrics-port N      /metrics and /debug port (default $PORT_METRICS, else ${METRICS_PORT})
  --host ADDR           listen address (default 0.0.0.0)
  --log-level LEVEL     ${LOG_LEVELS.join(', ')} (default info)
  --drain-delay-ms N    after SIGTERM, readiness fails but requests are served this long
                        before new ones get 503 (default 0; the operator sets it from
                        spec.terminationDrainDuration)
  --shutdown-grace-ms N time in-flight requests then get to finish (default 25000)
  --prompt-cache-ttl-ms N
                        how long a provider keeps a prefix cached for five minutes, and so
                        a conversation's cache-affinity pin (default 300000; tests shorten it
                        with the simulator's --cache-ttl-ms; one-hour breakpoints keep 1 h)
  --help                show this text

Environment, with --policy or --manifests (the operator sets these in a pod):
  ANTHROPIC_API_KEY     the provider key (each further backend's: the variable its apiKeyEnv
                        names in the policy), when no Secret among the manifests holds it
  BREAKWATER_CLIENT_KEYS
                        the keys callers present (x-api-key), comma-separated; required when
                        the policy names a client-keys Secret (--manifests: that Secret among
                        the manifests also works; this wins when set)
  BREAKWATER_DURABILITY_KEY_FILE, _PASSWORD_FILE, _CA_FILE
                        durable runs: the journal's 32-byte key, the store's password and CA
  BREAKWATER_RATE_LIMIT_STORE_PASSWORD_FILE, _CA_FILE
                        the rate-limit store's password and CA
  BREAKWATER_BACKEND_CREDENTIALS_DIR, BREAKWATER_MCP_HEADERS_DIR
                        where Bedrock/Vertex credentials and MCP servers' headers are read
  With --manifests, the Secrets among them that these name are used too (written to a
  private directory, 0700, removed on exit); a file a variable names wins, except the
  journal's key, where the Secret among the manifests wins.

Environment, in every mode (set it in a pod with the AgentDeployment's spec.env):
  OTEL_EXPORTER_OTLP_ENDPOINT
                        export OpenTelemetry traces and the gen_ai metrics over OTLP/HTTP
                        (protobuf, to .../v1/traces and .../v1/metrics; a collector's port
                        4318); unset, no span is recorded and a caller's traceparent goes
                        on to the provider unchanged
  OTEL_SERVICE_NAME     the spans' service.name (default breakwater-runtime); the standard
                        OTEL_* variables apply too: OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf,
                        http/json, grpc), OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER,
                        OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRICS_EXPORTER=none
  BREAKWATER_RUN_LEASE_MS
                        durable runs the runtime owns: how long a replica's lease on a run
                        lasts before another takes it over, 1000 to 600000 (default 15000)
  BREAKWATER_LEAN_ROUTE=off
                        serve every /v1/messages call the long way, even under a policy with
                        one backend and no cache, audit log, prompt-injection screen or
                        budgets (the lean path's escape hatch; /debug/policy says which way)
`;

export type RuntimeCli =
  | { readonly kind: 'options'; readonly options: RuntimeOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

class FlagError extends Error {}

export function parseRuntimeCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RuntimeCli {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        'metrics-port': { type: 'string' },
        host: { type: 'string', default: '0.0.0.0' },
        policy: { type: 'string' },
        manifests: { type: 'string' },
        agent: { type: 'string' },
        namespace: { type: 'string' },
        'client-keys-dir': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        'drain-delay-ms': { type: 'string', default: '0' },
        'shutdown-grace-ms': { type: 'string', default: '25000' },
        'prompt-cache-ttl-ms': { type: 'string', default: '300000' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  if (values.help) return { kind: 'help' };
  try {
    const logLevel = values['log-level'];
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw new FlagError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
    }
    const port = portFlag('--port', values.port ?? env[HTTP_PORT_ENV] ?? String(HTTP_PORT));
    const metricsPort = portFlag(
      '--metrics-port',
      values['metrics-port'] ?? env[METRICS_PORT_ENV] ?? String(METRICS_PORT),
    );
    if (port !== 0 && port === metricsPort)
      throw new FlagError(`--port and --metrics-port must differ, both are ${port}`);
    return {
      kind: 'options',
      options: {
        port,
        metricsPort,
        host: values.host,
        source: policySource({ ...values, clientKeysDir: values['client-keys-dir'] }, env),
        logLevel: logLevel as LogLevel,
        drainDelayMs: integer('--drain-delay-ms', values['drain-delay-ms'], 0, 3_600_000),
        shutdownGraceMs: integer('--shutdown-grace-ms', values['shutdown-grace-ms'], 0, 3_600_000),
        promptCacheTtlMs: integer(
          '--prompt-cache-ttl-ms',
          values['prompt-cache-ttl-ms'],
          1,
          3_600_000,
        ),
      },
    };
  } catch (err) {
    if (err instanceof FlagError) return { kind: 'error', message: err.message };
    throw err;
  }
}

function policySource(
  values: {
    policy?: string | undefined;
    manifests?: string | undefined;
    agent?: string | undefined;
    namespace?: string | undefined;
    clientKeysDir?: string | undefined;
  },
  env: Readonly<Record<string, string | undefined>>,
): PolicySourceOption {
  if (values.clientKeysDir !== undefined && (values.policy ?? values.manifests) !== undefined) {
    throw new FlagError(
      '--client-keys-dir is for cluster mode; with --policy or --manifests give BREAKWATER_CLIENT_KEYS',
    );
  }
  const given = [
    values.policy && '--policy',
    values.manifests && '--manifests',
    // With --manifests, --agent picks one of the AgentDeployments instead of naming a cluster source.
    values.manifests === undefined && values.agent && '--agent',
  ].filter(Boolean);
  if (given.length > 1) throw new FlagError(`${given.join(' and ')} are alternatives; give one`);
  if (values.policy !== undefined) {
    if (values.policy === '') throw new FlagError('--policy needs a file path');
    return { kind: 'file', path: values.policy };
  }
  if (values.manifests !== undefined) {
    if (values.manifests === '') throw new FlagError('--manifests needs a file or directory');
    if (values.agent === undefined) return { kind: 'manifests', path: values.manifests };
    if (!isObjectName(values.agent))
      throw new FlagError(`--agent must be a Kubernetes object name, got "${values.agent}"`);
    return { kind: 'manifests', path: values.manifests, agent: values.agent };
  }
  const agent = values.agent ?? env[AGENT_ENV];
  if (agent === undefined || agent === '') {
    throw new FlagError(
      'no policy source: give --policy FILE, --manifests PATH, or --agent NAME (or set BREAKWATER_AGENT)',
    );
  }
  if (!isObjectName(agent))
    throw new FlagError(`--agent must be a Kubernetes object name, got "${agent}"`);
  if (values.clientKeysDir === '') throw new FlagError('--client-keys-dir needs a directory');
  const fromEnv = env[CLIENT_KEYS_DIR_ENV];
  const clientKeysDir = values.clientKeysDir ?? (fromEnv === '' ? undefined : fromEnv);
  return {
    kind: 'cluster',
    agent,
    namespace: values.namespace ?? env[POD_NAMESPACE_ENV] ?? 'default',
    ...(clientKeysDir === undefined ? {} : { clientKeysDir }),
  };
}

function isObjectName(name: string): boolean {
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name);
}

function portFlag(flag: string, raw: string): number {
  return integer(flag, raw, 0, 65_535);
}

function integer(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw))
    throw new FlagError(`${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new FlagError(`${flag} must be an integer from ${min} to ${max}, got ${raw}`);
  return value;
}

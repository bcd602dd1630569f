/**
 * The command line of `kubectl breakwater`, validated into one command. Flags follow kubectl:
 * `-n/--namespace`, `-A/--all-namespaces`, `-o/--output json|yaml`, `--kubeconfig`,
 * `--context`; anything wrong is refused with the flag named and what it takes.
 */
import { parseArgs } from 'node:util';
import { parseDuration, isInvalidDurationError } from '../../../contract/src/api/duration.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Connection {
  readonly kubeconfig: string | undefined;
  readonly context: string | undefined;
  /** `-n`; undefined means the context's namespace, else `default`. */
  readonly namespace: string | undefined;
  readonly allNamespaces: boolean;
}

interface Common {
  readonly connection: Connection;
  readonly output: OutputFormat;
}

export type PluginCommand = Common &
  (
    | { readonly kind: 'status'; readonly agent: string | undefined }
    | { readonly kind: 'top' }
    | { readonly kind: 'explain'; readonly agent: string }
    | { readonly kind: 'runs'; readonly agent: string; readonly limit: number }
    | {
        readonly kind: 'trip';
        readonly policy: string;
        readonly forMs: number;
        readonly reason: string;
        readonly timeoutMs: number;
      }
    | { readonly kind: 'reset'; readonly policy: string; readonly timeoutMs: number }
  );

export type ParsedArgs =
  | { readonly kind: 'command'; readonly command: PluginCommand }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export const DEFAULT_TIMEOUT_MS = 60_000;

export const USAGE = `Usage: kubectl-breakwater <command> [flags]
  as a kubectl plugin (kubectl-breakwater on PATH): kubectl breakwater <command> [flags]

On-call views and switches for Breakwater agents (kubectl-breakwater).

Commands:
  status [agent]                 agents, their replicas and each replica's breakers,
                                 policy hash and override
  top                            per agent over its replicas, busiest first: throughput,
                                 success rate, p50/p95/p99, top errors, fallback share
                                 (reads each pod's /debug/stats through the API server's
                                 pod proxy: needs get on pods/proxy)
  trip <cbp> --for 10m --reason "INC-1234: provider outage"
                                 force the CircuitBreakerPolicy's breakers open until then,
                                 and wait until every replica has applied it
  reset <cbp>                    end the override, and wait until every replica has
  explain <agent>                why an agent is not Ready: its conditions, its children
                                 (Deployment, pods, HorizontalPodAutoscaler) and Events
  runs <agent>                   the agent's durable runs, newest first: state, steps,
                                 replayed calls, resumed/diverged, last step (reads a pod's
                                 /debug/runs through the pod proxy: needs get on pods/proxy)

Flags:
  -n, --namespace NS             the namespace (default: the context's, else default)
  -A, --all-namespaces           every namespace (status, top)
  -o, --output json|yaml         print the result as JSON or YAML instead of a table
      --kubeconfig PATH          the kubeconfig (default: $KUBECONFIG, ~/.kube/config)
      --context NAME             the kubeconfig context to use
      --for DURATION             trip: how long the override lasts (30s, 10m, 2h)
      --reason TEXT              trip: why, for the next person on call (required)
      --timeout DURATION         trip, reset: how long to wait for every replica (default 60s)
      --limit N                  runs: how many runs to list, 1 to 200 (default 20)
  -h, --help                     show this text
`;

const COMMANDS = ['status', 'top', 'trip', 'reset', 'explain', 'runs'] as const;

/** `runs --limit`: as many as `/debug/runs` gives. */
const DEFAULT_RUNS_LIMIT = 20;
const MAX_RUNS_LIMIT = 200;

class ArgsError extends Error {}

export function parsePluginArgs(argv: readonly string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A', default: false },
        output: { type: 'string', short: 'o' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        for: { type: 'string' },
        reason: { type: 'string' },
        timeout: { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return { kind: 'help' };
  try {
    return { kind: 'command', command: toCommand(values, positionals) };
  } catch (error) {
    if (error instanceof ArgsError) return { kind: 'error', message: error.message };
    throw error;
  }
}

interface Values {
  readonly namespace?: string | undefined;
  readonly 'all-namespaces': boolean;
  readonly output?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  readonly for?: string | undefined;
  readonly reason?: string | undefined;
  readonly timeout?: string | undefined;
  readonly limit?: string | undefined;
}

function toCommand(values: Values, positionals: readonly string[]): PluginCommand {
  const [name, ...rest] = positionals;
  if (!COMMANDS.includes(name as (typeof COMMANDS)[number]))
    throw new ArgsError(`unknown command "${name ?? ''}": use one of ${COMMANDS.join(', ')}`);
  const command = name as (typeof COMMANDS)[number];
  if (values['all-namespaces'] && values.namespace !== undefined)
    throw new ArgsError('-n/--namespace and -A/--all-namespaces: use one, not both');
  if (values['all-namespaces'] && command !== 'status' && command !== 'top')
    throw new ArgsError(`-A/--all-namespaces: ${command} works on one object in one namespace`);
  const common: Common = {
    connection: {
      kubeconfig: values.kubeconfig,
      context: values.context,
      namespace: values.namespace,
      allNamespaces: values['all-namespaces'],
    },
    output: outputFormat(values.output),
  };
  const onlyFor = (flag: 'for' | 'reason' | 'timeout' | 'limit', allowed: readonly string[]) => {
    if (values[flag] !== undefined && !allowed.includes(command))
      throw new ArgsError(`--${flag}: only ${allowed.join(' and ')} take it`);
  };
  onlyFor('for', ['trip']);
  onlyFor('reason', ['trip']);
  onlyFor('timeout', ['trip', 'reset']);
  onlyFor('limit', ['runs']);
  const at = (most: number, usage: string) => {
    if (rest.length > most)
      throw new ArgsError(`${command}: unexpected "${rest[most] ?? ''}"; usage: ${usage}`);
  };
  switch (command) {
    case 'status':
      at(1, 'status [agent]');
      return { ...common, kind: 'status', agent: rest[0] };
    case 'top':
      at(0, 'top');
      return { ...common, kind: 'top' };
    case 'explain':
      at(1, 'explain <agent>');
      return {
        ...common,
        kind: 'explain',
        agent: required(rest[0], "explain needs the AgentDeployment's name: explain <agent>"),
      };
    case 'runs':
      at(1, 'runs <agent>');
      return {
        ...common,
        kind: 'runs',
        agent: required(rest[0], "runs needs the AgentDeployment's name: runs <agent>"),
        limit: runsLimit(values.limit),
      };
    case 'trip': {
      at(1, 'trip <cbp> --for 10m --reason TEXT');
      const policy = required(
        rest[0],
        "trip needs the CircuitBreakerPolicy's name: trip <cbp> --for 10m --reason TEXT",
      );
      const forMs = duration(
        '--for',
        required(
          values.for,
          'trip needs --for (how long, such as 10m): an override without an end is easy to forget',
        ),
      );
      if (forMs <= 0) throw new ArgsError(`--for: must be longer than 0, got ${values.for ?? ''}`);
      const reason = required(
        values.reason,
        'trip needs --reason (such as "INC-1234: provider outage"): the next person on call reads it',
      ).trim();
      if (reason === '') throw new ArgsError('--reason: must not be empty');
      return { ...common, kind: 'trip', policy, forMs, reason, timeoutMs: timeout(values.timeout) };
    }
    case 'reset':
      at(1, 'reset <cbp>');
      return {
        ...common,
        kind: 'reset',
        policy: required(rest[0], "reset needs the CircuitBreakerPolicy's name: reset <cbp>"),
        timeoutMs: timeout(values.timeout),
      };
  }
}

function outputFormat(raw: string | undefined): OutputFormat {
  if (raw === undefined) return 'table';
  if (raw === 'json' || raw === 'yaml') return raw;
  throw new ArgsError(`-o/--output: expected json or yaml, got "${raw}"`);
}

function runsLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_RUNS_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_RUNS_LIMIT)
    throw new ArgsError(
      `--limit: expected a whole number from 1 to ${String(MAX_RUNS_LIMIT)}, got "${raw}"`,
    );
  return limit;
}

function required(value: string | undefined, message: string): string {
  if (value === undefined) throw new ArgsError(message);
  return value;
}

function timeout(raw: string | undefined): number {
  return raw === undefined ? DEFAULT_TIMEOUT_MS : duration('--timeout', raw);
}

function duration(flag: string, raw: string): number {
  try {
    return parseDuration(raw);
  } catch (error) {
    if (isInvalidDurationError(error)) throw new ArgsError(`${flag}: ${error.message}`);
    throw error;
  }
}

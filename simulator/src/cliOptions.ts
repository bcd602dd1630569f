/** Command-line flags of `breakwater-llm-sim`, validated into options. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BudgetLimits } from './rateLimitBudget.ts';
import type { AwsCredentials } from './sigV4Verifier.ts';
import { DEFAULT_TOKEN_TTL_SECONDS, type ServiceAccountKey } from './vertexTokenIssuer.ts';
import { DEFAULT_PACING, type StreamPacing } from './streamPacing.ts';
import { SEARCH_RESULT_TOKENS } from './replyPlan.ts';

export interface SimulatorOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Added before every successful answer. */
  readonly latencyMs: number;
  /** How streams are spread over time and writes, like a real provider's. */
  readonly pacing: StreamPacing;
  /** Seeds fault rolls, ids and stream pacing; unset, they differ per run. */
  readonly seed: number | undefined;
  readonly limits: BudgetLimits;
  /** When set, requests must carry it in `x-api-key` (or `authorization: Bearer`). */
  readonly apiKey: string | undefined;
  /** Bedrock requests must be SigV4-signed with one of these. */
  readonly awsCredentials: readonly AwsCredentials[];
  /** Vertex tokens are issued to these service accounts. */
  readonly vertexServiceAccounts: readonly ServiceAccountKey[];
  /** The shortest prefix the prompt cache keeps; unset: the API's minimum per model family. */
  readonly cacheMinTokens?: number | undefined;
  /** The lifetime of a five-minute cache entry; unset: five minutes, as the API's. */
  readonly cacheTtlMs?: number | undefined;
  /** Input tokens each web search's results are billed at; unset: SEARCH_RESULT_TOKENS. */
  readonly searchResultTokens?: number | undefined;
}

export const DEFAULT_PORT = 8787;

export const USAGE = `Usage: breakwater-llm-sim [flags]

An Anthropic Messages API simulator with fault injection.

  --host HOST          address to listen on (default 127.0.0.1)
  --port N             port; 0 picks a free one (default $PORT_HTTP, else ${DEFAULT_PORT})
  --latency-ms N       delay before every successful answer (default 0)
  --first-token-ms N   pause before a stream's first content event (default ${DEFAULT_PACING.firstTokenMs})
  --event-gap-ms N     pause before each later stream event (default ${DEFAULT_PACING.eventGapMs});
                       both pauses vary by +/-50 %, drawn from --seed
  --whole-events       never cut a stream event across two writes (by default about one
                       in four is, as TCP delivers a real provider's stream); with both
                       pauses 0, each stream goes out in one write (for benchmarks)
  --seed N             seed for fault rolls, ids and stream pacing, for repeatable runs
  --rpm N              requests per minute (default unlimited)
  --input-tpm N        input tokens per minute (default unlimited)
  --output-tpm N       output tokens per minute (default unlimited)
  --api-key KEY        require this key in x-api-key (default: any key)
  --aws-credentials KEY_ID:SECRET[:SESSION_TOKEN]
                       accept Bedrock requests SigV4-signed with these (repeatable; also
                       AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
  --vertex-service-account FILE | EMAIL=PEM_FILE
                       issue Vertex tokens to this service account: its JSON key file, or
                       its email and a PEM public key or certificate (repeatable)
  --vertex-token-ttl-seconds N
                       lifetime of issued Vertex tokens (default ${DEFAULT_TOKEN_TTL_SECONDS})
  --cache-min-tokens N the shortest prefix the prompt cache keeps, in tokens (default: the
                       API's per model: 4096 for Opus 4.5+ and Haiku 4.5, 2048 for Haiku 3,
                       else 1024)
  --cache-ttl-ms N     the lifetime of a prefix cached for five minutes, in ms (default
                       300000; tests shorten it to watch a prefix expire; 1 h stays 1 h)
  --search-result-tokens N
                       input tokens each web search's results are billed at (default
                       ${SEARCH_RESULT_TOKENS}; 0 bills the searches' fees alone)
  --help               show this text
`;

export type CliResult =
  | { readonly kind: 'options'; readonly options: SimulatorOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  readText: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): CliResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        'latency-ms': { type: 'string', default: '0' },
        'cache-min-tokens': { type: 'string' },
        'cache-ttl-ms': { type: 'string' },
        'search-result-tokens': { type: 'string' },
        'first-token-ms': { type: 'string', default: String(DEFAULT_PACING.firstTokenMs) },
        'event-gap-ms': { type: 'string', default: String(DEFAULT_PACING.eventGapMs) },
        'whole-events': { type: 'boolean', default: DEFAULT_PACING.wholeEvents },
        // Refused with the replacement named, rather than as an unknown flag.
        'delta-delay-ms': { type: 'string' },
        seed: { type: 'string' },
        rpm: { type: 'string' },
        'input-tpm': { type: 'string' },
        'output-tpm': { type: 'string' },
        'api-key': { type: 'string' },
        'aws-credentials': { type: 'string', multiple: true, default: [] },
        'vertex-service-account': { type: 'string', multiple: true, default: [] },
        'vertex-token-ttl-seconds': { type: 'string', default: String(DEFAULT_TOKEN_TTL_SECONDS) },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: 'help' };
  if (values['delta-delay-ms'] !== undefined) {
    return {
      kind: 'error',
      message:
        '--delta-delay-ms: replaced by --event-gap-ms (pause before each event) and ' +
        '--first-token-ms; streams are paced by default, and --first-token-ms 0 ' +
        '--event-gap-ms 0 --whole-events sends each in one write',
    };
  }
  try {
    const port = values.port ?? env['PORT_HTTP'];
    return {
      kind: 'options',
      options: {
        host: values.host,
        port:
          port === undefined
            ? DEFAULT_PORT
            : integerFlag(values.port === undefined ? 'PORT_HTTP' : '--port', port, 0, 65_535),
        latencyMs: integerFlag('--latency-ms', values['latency-ms'], 0),
        pacing: {
          firstTokenMs: integerFlag('--first-token-ms', values['first-token-ms'], 0),
          eventGapMs: integerFlag('--event-gap-ms', values['event-gap-ms'], 0),
          wholeEvents: values['whole-events'],
        },
        seed: optional('--seed', values.seed, 0, 2 ** 32 - 1),
        limits: {
          requestsPerMinute: optional('--rpm', values.rpm, 1),
          inputTokensPerMinute: optional('--input-tpm', values['input-tpm'], 1),
          outputTokensPerMinute: optional('--output-tpm', values['output-tpm'], 1),
        },
        apiKey: values['api-key'],
        cacheMinTokens: optional('--cache-min-tokens', values['cache-min-tokens'], 1),
        cacheTtlMs: optional('--cache-ttl-ms', values['cache-ttl-ms'], 1, 3_600_000),
        searchResultTokens: optional(
          '--search-result-tokens',
          values['search-result-tokens'],
          0,
          10_000_000,
        ),
        awsCredentials: awsCredentials(values['aws-credentials'], env),
        vertexServiceAccounts: serviceAccounts(
          values['vertex-service-account'],
          integerFlag('--vertex-token-ttl-seconds', values['vertex-token-ttl-seconds'], 1),
          readText,
        ),
      },
    };
  } catch (error) {
    if (error instanceof FlagError) return { kind: 'error', message: error.message };
    throw error;
  }
}

class FlagError extends Error {}

function awsCredentials(
  flags: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): AwsCredentials[] {
  const fromFlags = flags.map((flag) => {
    const [accessKeyId = '', secretAccessKey = '', sessionToken, ...rest] = flag.split(':');
    if (accessKeyId === '' || secretAccessKey === '' || rest.length > 0) {
      throw new FlagError(
        '--aws-credentials: expected KEY_ID:SECRET or KEY_ID:SECRET:SESSION_TOKEN',
      );
    }
    return {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined ? {} : { sessionToken }),
    };
  });
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (accessKeyId === undefined || secretAccessKey === undefined) return fromFlags;
  const sessionToken = env['AWS_SESSION_TOKEN'];
  return [
    ...fromFlags,
    { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
  ];
}

function serviceAccounts(
  flags: readonly string[],
  tokenTtlSeconds: number,
  readText: (path: string) => string,
): ServiceAccountKey[] {
  return flags.map((flag) => {
    const read = (path: string) => {
      try {
        return readText(path);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        throw new FlagError(`--vertex-service-account: cannot read ${path}: ${why}`);
      }
    };
    const equals = flag.indexOf('=');
    if (equals > 0) {
      return {
        clientEmail: flag.slice(0, equals),
        publicKey: read(flag.slice(equals + 1)),
        tokenTtlSeconds,
      };
    }
    let key: { client_email?: unknown; private_key?: unknown };
    try {
      key = JSON.parse(read(flag)) as typeof key;
    } catch (error) {
      if (error instanceof FlagError) throw error;
      throw new FlagError(`--vertex-service-account: ${flag} is not a JSON key file`);
    }
    if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
      throw new FlagError(`--vertex-service-account: ${flag} has no client_email and private_key`);
    }
    return { clientEmail: key.client_email, publicKey: key.private_key, tokenTtlSeconds };
  });
}

function optional(flag: string, raw: string | undefined, min: number, max?: number) {
  return raw === undefined ? undefined : integerFlag(flag, raw, min, max);
}

function integerFlag(
  flag: string,
  raw: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new FlagError(`${flag}: expected an integer from ${min} to ${max}, got '${raw}'`);
  }
  return value;
}

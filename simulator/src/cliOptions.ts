/** Command-line flags of `breakwater-llm-sim`, validated into options. */
import { parseArgs } from 'node:util';
import type { BudgetLimits } from './rateLimitBudget.ts';
import { DEFAULT_PACING, type StreamPacing } from './streamPacing.ts';

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
  --help               show this text
`;

export type CliResult =
  | { readonly kind: 'options'; readonly options: SimulatorOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export function parseCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
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
      },
    };
  } catch (error) {
    if (error instanceof FlagError) return { kind: 'error', message: error.message };
    throw error;
  }
}

class FlagError extends Error {}

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

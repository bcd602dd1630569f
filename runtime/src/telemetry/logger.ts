/**
 * The runtime's JSON logger. Anything that looks like a credential is redacted by path, as a
 * second line of defence: no code path is meant to hand a key to the logger at all.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'headers["x-api-key"]',
  'headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
];

export function createLogger(
  level: LogLevel,
  name = 'breakwater-runtime',
  destination?: DestinationStream,
): Logger {
  const options = {
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

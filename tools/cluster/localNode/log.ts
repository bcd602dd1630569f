/** JSON-lines logging for the local node: one object per line, `time`, `level`, `msg`, then fields. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

type Level = 'info' | 'warn' | 'error';

export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
  base: LogFields = {},
): Logger {
  const emit = (level: Level, msg: string, fields: LogFields = {}): void => {
    const line = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    write(`${JSON.stringify(line, errorReplacer)}\n`);
  };
  return {
    info: (msg, fields) => {
      emit('info', msg, fields);
    },
    warn: (msg, fields) => {
      emit('warn', msg, fields);
    },
    error: (msg, fields) => {
      emit('error', msg, fields);
    },
    child: (fields) => jsonLogger(write, { ...base, ...fields }),
  };
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** Errors serialize as their message (and code), not as `{}`. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? value.message : { message: value.message, code };
  }
  return value;
}

/** An error's message, whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

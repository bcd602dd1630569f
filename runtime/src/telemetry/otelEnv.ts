/** The standard OTEL_* variables the runtime reads itself (tracing.ts, traceExport.ts, otlpMetrics.ts). */

export type OtelEnv = Readonly<Record<string, string | undefined>>;

/** The OTLP protocol the environment asks for, for `signal` or all; undefined when it says none. */
export function protocolOf(env: OtelEnv, signal: 'TRACES' | 'METRICS'): string | undefined {
  const given = (
    env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL']
  )?.trim();
  return given === '' ? undefined : given;
}

/** A comma-separated list (OTEL_METRICS_EXPORTER, ...), blanks dropped, each named once. */
export function listOf(env: OtelEnv, name: string): string[] {
  return [
    ...new Set(
      (env[name] ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    ),
  ];
}

/** A number above zero, or undefined when the variable is unset, blank or not one. */
export function positiveOf(env: OtelEnv, name: string): number | undefined {
  const value = env[name];
  const n = Number(value);
  return value === undefined || value.trim() === '' || !(n > 0) ? undefined : n;
}

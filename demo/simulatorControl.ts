/** The simulator's run-time fault injection (simulator/src/README.md). */
export interface SimulatorControl {
  readonly url: string;
  injectFault(fault: Readonly<Record<string, unknown>>): Promise<void>;
  clearFaults(): Promise<void>;
  stats(): Promise<{ requests: number; byOutcome: Record<string, number> }>;
}

export function simulatorControl(url: string | undefined): SimulatorControl | undefined {
  if (url === undefined) return undefined;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`simulator ${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url,
    injectFault: async (fault) => {
      await call('DELETE', '/_sim/faults');
      await call('POST', '/_sim/faults', fault);
    },
    clearFaults: async () => {
      await call('DELETE', '/_sim/faults');
    },
    stats: async () =>
      (await call('GET', '/_sim/stats')) as { requests: number; byOutcome: Record<string, number> },
  };
}

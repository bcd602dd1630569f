/**
 * Starts `breakwater-llm-sim` as a child process for a test and drives its control API.
 *
 *   const sim = await startSimulator({ rpm: 10 });
 *   const client = new Anthropic({ baseURL: sim.url, apiKey: 'test', maxRetries: 0 });
 *   await sim.setFault({ status: 529, count: 2 });
 *   ...
 *   await sim.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { FaultView } from '../../simulator/src/faultInjector.ts';
import type { FaultRequest, StreamPoint } from '../../simulator/src/faultSpec.ts';
import type { StatsSnapshot } from '../../simulator/src/simulatorStats.ts';
import type { BilledCall } from '../../simulator/src/billedUsage.ts';
import { serverHost } from './podReach.ts';

export type { BilledCall, FaultRequest, FaultView, StatsSnapshot, StreamPoint };

export interface SimulatorStartOptions {
  /** The address it listens on. @default serverHost() */
  readonly host?: string;
  /** Base latency before every successful answer. */
  readonly latencyMs?: number;
  /**
   * Pause before a stream's first content event. @default 40 (the simulator's default, like
   * every pacing option: streams arrive as a real provider's do)
   */
  readonly firstTokenMs?: number;
  /** Pause before each later stream event. @default 8 */
  readonly eventGapMs?: number;
  /** Never cut a stream event across two writes. @default false: about one in four is cut */
  readonly wholeEvents?: boolean;
  readonly seed?: number;
  readonly rpm?: number;
  readonly inputTpm?: number;
  readonly outputTpm?: number;
  /** Require this `x-api-key`. */
  readonly apiKey?: string;
  /** Input tokens each web search's results are billed at. @default the simulator's, 2,000 */
  readonly searchResultTokens?: number;
  /** Further flags, passed as given. */
  readonly args?: readonly string[];
}

export interface SimulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:41234`; pass it as the SDK's `baseURL`. */
  readonly url: string;
  readonly port: number;
  /** The simulator process (benchmarks read its CPU time). */
  readonly pid: number;
  /** Replaces every active fault with this one. */
  setFault(fault: FaultRequest): Promise<FaultView>;
  /** Adds a fault on top of the active ones. */
  addFault(fault: FaultRequest): Promise<FaultView>;
  faults(): Promise<FaultView[]>;
  clearFaults(): Promise<void>;
  stats(): Promise<StatsSnapshot>;
  /** Zeroes the counters; resolves with the counts that were cleared. */
  resetStats(): Promise<StatsSnapshot>;
  /** What each Messages call was billed, oldest first, cut streams and callers that left too. */
  billed(): Promise<BilledCall[]>;
  /** Forgets the billed calls; resolves with those forgotten. */
  resetBilled(): Promise<BilledCall[]>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Every stream in one write, for benchmarks: their numbers measure the code under test, not
 * the simulator's pauses. Tests keep the paced default.
 */
export const ONE_WRITE_STREAMS = {
  firstTokenMs: 0,
  eventGapMs: 0,
  wholeEvents: true,
} as const satisfies SimulatorStartOptions;

const MAIN = fileURLToPath(new URL('../../simulator/src/main.ts', import.meta.url));

/** How long the process may take to print its listening line. */
const START_TIMEOUT_MS = 15_000;

export async function startSimulator(
  options: SimulatorStartOptions = {},
): Promise<SimulatorHandle> {
  const args = [MAIN, '--host', options.host ?? serverHost(), '--port', '0', ...flags(options)];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await listeningUrl(child);
  const port = Number(new URL(url).port);

  return {
    url,
    port,
    pid: child.pid ?? 0,
    ...simulatorControl(url),
    stop: (graceMs = 5_000) => stopProcess(child, graceMs),
  };
}

/** The control API of a simulator at `url`, wherever it runs (a child process, a pod). */
export function simulatorControl(
  url: string,
): Omit<SimulatorHandle, 'url' | 'port' | 'pid' | 'stop'> {
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    async setFault(fault) {
      await control('DELETE', '/_sim/faults');
      return control<FaultView>('POST', '/_sim/faults', fault);
    },
    addFault: (fault) => control<FaultView>('POST', '/_sim/faults', fault),
    faults: async () => (await control<{ faults: FaultView[] }>('GET', '/_sim/faults')).faults,
    async clearFaults() {
      await control('DELETE', '/_sim/faults');
    },
    stats: () => control<StatsSnapshot>('GET', '/_sim/stats'),
    resetStats: () => control<StatsSnapshot>('DELETE', '/_sim/stats'),
    billed: async () => (await control<{ calls: BilledCall[] }>('GET', '/_sim/usage')).calls,
    resetBilled: async () =>
      (await control<{ calls: BilledCall[] }>('DELETE', '/_sim/usage')).calls,
  };
}

function flags(options: SimulatorStartOptions): string[] {
  const named: [string, number | string | undefined][] = [
    ['--latency-ms', options.latencyMs],
    ['--first-token-ms', options.firstTokenMs],
    ['--event-gap-ms', options.eventGapMs],
    ['--seed', options.seed],
    ['--rpm', options.rpm],
    ['--input-tpm', options.inputTpm],
    ['--output-tpm', options.outputTpm],
    ['--api-key', options.apiKey],
    ['--search-result-tokens', options.searchResultTokens],
  ];
  const args = named.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
  const switches = options.wholeEvents === true ? ['--whole-events'] : [];
  return [...args, ...switches, ...(options.args ?? [])];
}

/** Resolves with the URL from the `{"msg":"listening"}` line; rejects if the process ends first. */
function listeningUrl(child: ChildProcess): Promise<string> {
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    if (child.stdout === null) throw new Error('the simulator was spawned without a stdout pipe');
    const lines = createInterface({ input: child.stdout });
    const fail = (why: string) => {
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(new Error(`breakwater-llm-sim ${why}${stderr === '' ? '' : `:\n${stderr}`}`));
    };
    const timer = setTimeout(() => {
      fail(`printed no listening line in ${START_TIMEOUT_MS} ms`);
    }, START_TIMEOUT_MS);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      fail(`exited before listening (${signal ?? String(code)})`);
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      const parsed = parseLine(line);
      if (parsed?.msg !== 'listening' || typeof parsed.url !== 'string') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(parsed.url);
    });
  });
}

function parseLine(line: string): { msg?: unknown; url?: unknown } | undefined {
  try {
    return JSON.parse(line) as { msg?: unknown; url?: unknown };
  } catch {
    return undefined;
  }
}

async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs the real operator (operator/src/main.ts) as a child process for one test namespace:
 * free ports, readiness, its JSON log lines kept in memory and in a file, and stop (SIGTERM)
 * or kill (SIGKILL, as a crash). `eventually` is `waitFor` whose timeout error carries the
 * log tails of every operator this test file started, so a failed wait shows why.
 *
 *   const operator = await startOperator({ namespace: ns.name });
 *   await eventually(() => ..., { timeoutMs: 60_000, description: 'agent demo to be Ready' });
 *   await operator.stop();
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { kubeconfigPath, waitFor, type WaitForOptions } from './kube.ts';

const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
const LOG_DIR = fileURLToPath(new URL('../../.breakwater/logs/operator-tests', import.meta.url));

/** How long the process may take to bind its ports and to sync its caches. */
const START_TIMEOUT_MS = 30_000;

export interface StartOperatorOptions {
  /** The namespace it watches (and holds its Lease in, with `leaderElect`). */
  readonly namespace: string;
  /** Names this process in logs and file names when a test runs more than one. @default 'operator' */
  readonly name?: string;
  /** @default the test cluster's kubeconfig */
  readonly kubeconfig?: string;
  readonly leaderElect?: boolean;
  /**
   * Resolve only once it reconciles (caches synced). @default true without leader election;
   * with it, a standby never would, so the default is false.
   */
  readonly waitUntilLeading?: boolean;
  /** @default 'info' */
  readonly logLevel?: string;
  /** Flags for node itself, before the script (e.g. `--max-old-space-size=128`). */
  readonly nodeOptions?: readonly string[];
}

export interface OperatorLogLine {
  readonly msg?: string;
  readonly level?: number;
  readonly time?: number;
  readonly [field: string]: unknown;
}

export interface OperatorExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface OperatorProcess {
  readonly name: string;
  readonly pid: number;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly logFile: string;
  /** Every log line so far, parsed (lines that are not JSON arrive as `{msg: line}`). */
  lines(): readonly OperatorLogLine[];
  /** Resolves with the first line (from the start) that `match` accepts. */
  waitForLog(
    match: (line: OperatorLogLine) => boolean,
    timeoutMs: number,
  ): Promise<OperatorLogLine>;
  /** What its /readyz says about the lease (true without leader election). */
  isLeader(): Promise<boolean>;
  metrics(): Promise<string>;
  /** Peak resident set (VmHWM) so far, in MiB; undefined once it has exited. */
  peakRssMb(): number | undefined;
  /** SIGTERM (it releases its lease and finishes running reconciles), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<OperatorExit>;
  /** SIGKILL: a crash, mid-whatever it was doing. */
  kill(): Promise<OperatorExit>;
  readonly exited: Promise<OperatorExit>;
  readonly hasExited: () => boolean;
}

const started: OperatorProcess[] = [];

export const MSG_SERVING = 'serving health and metrics';
export const MSG_RECONCILING = 'caches synced; reconciling';

export async function startOperator(options: StartOperatorOptions): Promise<OperatorProcess> {
  const name = options.name ?? 'operator';
  const chartImage = process.env['BREAKWATER_CHART_IMAGE'];
  const args = [
    '--no-warnings=ExperimentalWarning',
    ...(options.nodeOptions ?? []),
    MAIN,
    '--kubeconfig',
    options.kubeconfig ?? kubeconfigPath(),
    '--namespace',
    options.namespace,
    '--metrics-port',
    '0',
    '--health-port',
    '0',
    '--log-level',
    options.logLevel ?? 'info',
    ...(options.leaderElect === true
      ? ['--leader-elect', '--leader-election-namespace', options.namespace]
      : []),
    // The image the cluster's node holds (make e2e-kind's is not the chart's default tag).
    ...(chartImage === undefined || chartImage === '' ? [] : ['--runtime-image', chartImage]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('the operator did not start');
  const pid = child.pid;

  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${options.namespace}-${name}-${pid}.log`);
  const file: WriteStream = createWriteStream(logFile);
  const lines: OperatorLogLine[] = [];
  const listeners = new Set<(line: OperatorLogLine) => void>();
  const take = (text: string): void => {
    file.write(`${text}\n`);
    const line = parseLine(text);
    lines.push(line);
    for (const listener of listeners) listener(line);
  };
  createInterface({ input: child.stdout }).on('line', take);
  createInterface({ input: child.stderr }).on('line', (text) => {
    take(JSON.stringify({ msg: text, stream: 'stderr' }));
  });

  let exit: OperatorExit | undefined;
  const exited = new Promise<OperatorExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const hasExited = (): boolean => exit !== undefined;
  void exited.then(() => file.end());

  const waitForLog = (
    match: (line: OperatorLogLine) => boolean,
    timeoutMs: number,
  ): Promise<OperatorLogLine> => {
    const found = lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (line: OperatorLogLine): void => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`operator ${name} logged no matching line in ${timeoutMs} ms\n${tail(lines)}`),
        );
      }, timeoutMs);
      listeners.add(listener);
      void exited.then((how) => {
        if (!listeners.has(listener)) return;
        done();
        reject(new Error(`operator ${name} exited (${describeExit(how)})\n${tail(lines)}`));
      });
    });
  };

  const signalAndWait = async (signal: NodeJS.Signals, graceMs: number): Promise<OperatorExit> => {
    if (exit !== undefined) return exit;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };

  let serving: OperatorLogLine;
  try {
    serving = await waitForLog((l) => l.msg === MSG_SERVING, START_TIMEOUT_MS);
  } catch (error) {
    await signalAndWait('SIGKILL', 0);
    throw error;
  }
  const healthPort = Number(serving['healthPort']);
  const metricsPort = Number(serving['metricsPort']);

  const handle: OperatorProcess = {
    name,
    pid,
    healthPort,
    metricsPort,
    logFile,
    lines: () => lines,
    waitForLog,
    async isLeader() {
      const response = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      const body = (await response.json()) as { leader?: boolean };
      return body.leader === true;
    },
    async metrics() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return response.text();
    },
    peakRssMb: () => (exit === undefined ? peakRss(pid) : undefined),
    stop: (graceMs = 15_000) => signalAndWait('SIGTERM', graceMs),
    kill: () => signalAndWait('SIGKILL', 0),
    exited,
    hasExited,
  };
  started.push(handle);

  const waitUntilLeading = options.waitUntilLeading ?? options.leaderElect !== true;
  try {
    if (waitUntilLeading) await waitForLog((l) => l.msg === MSG_RECONCILING, START_TIMEOUT_MS);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200,
      { timeoutMs: START_TIMEOUT_MS, description: `operator ${name} /readyz` },
    );
  } catch (error) {
    await handle.kill();
    throw error;
  }
  return handle;
}

/** Stops every operator this test file started that is still running. */
export async function stopOperators(): Promise<void> {
  await Promise.all(started.map((operator) => operator.stop()));
}

/** The last lines of every operator this test file started, for a failure message. */
export function operatorLogTails(lineCount = 25): string {
  return started
    .map(
      (operator) =>
        `--- operator ${operator.name} (pid ${operator.pid}, ${operator.logFile}) ---\n` +
        tail(operator.lines(), lineCount),
    )
    .join('\n');
}

/** `waitFor`, with the operators' log tails in the timeout error. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitForOptions,
): Promise<T> {
  try {
    return await waitFor(probe, options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n${operatorLogTails()}`);
  }
}

function parseLine(text: string): OperatorLogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) return parsed as OperatorLogLine;
  } catch {
    // not JSON: keep the text as the message
  }
  return { msg: text };
}

function tail(lines: readonly OperatorLogLine[], count = 25): string {
  return lines
    .slice(-count)
    .map((line) => JSON.stringify(line))
    .join('\n');
}

function describeExit(exit: OperatorExit): string {
  return exit.signal === null ? `code ${String(exit.code)}` : `signal ${exit.signal}`;
}

function peakRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

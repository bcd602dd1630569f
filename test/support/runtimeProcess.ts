/**
 * Starts `breakwater-runtime` as a child process for a test: waits for its listening line,
 * exposes both ports, and stops it with SIGTERM (then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The runtime's entry point: its source, or what BREAKWATER_TEST_RUNTIME_MAIN names (the
 * bundle the image runs, dist/runtime/bundle/main.js, to run a suite against it).
 */
const MAIN =
  process.env['BREAKWATER_TEST_RUNTIME_MAIN'] ??
  fileURLToPath(new URL('../../runtime/src/main.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;

export interface RuntimeHandle {
  readonly url: string;
  readonly metricsUrl: string;
  readonly child: ChildProcess;
  /** Every log line printed so far. */
  readonly output: string[];
  metrics(): Promise<string>;
  debug(path: string): Promise<unknown>;
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface RuntimeStartOptions {
  /** Its own process group, for a test to SIGKILL the group as a lost node kills a pod. */
  readonly ownGroup?: boolean;
  /** More flags, after the test's own. */
  readonly args?: readonly string[];
  /** Another checkout's runtime entry point (a before/after benchmark); default this one's. */
  readonly main?: string;
  /** Node's own flags, before the entry point (a benchmark of a V8 flag's cost). */
  readonly nodeArgs?: readonly string[];
  /** The address it listens on and the test reaches it at. @default '127.0.0.1' */
  readonly host?: string;
  /** Runs it through a launcher: a network namespace's `ip netns exec` (test/support/netns.ts). */
  readonly exec?: (argv: readonly string[]) => string[];
}

export async function startRuntime(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: RuntimeStartOptions = {},
): Promise<RuntimeHandle> {
  const host = options.host ?? '127.0.0.1';
  const [command = process.execPath, ...argv] = (options.exec ?? ((a) => [...a]))([
    process.execPath,
    '--no-warnings=ExperimentalWarning',
    ...(options.nodeArgs ?? []),
    options.main ?? MAIN,
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--host',
    host,
    ...args,
    ...(options.args ?? []),
  ]);
  const child = spawn(command, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', ...env },
    detached: options.ownGroup === true,
  });
  const output: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
    }),
  );
  const ports = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runtime did not listen in time:\n${output.join('\n')}`));
    }, START_TIMEOUT_MS);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`runtime exited (${code}) before listening:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      try {
        const parsed = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
        if (
          parsed.msg === 'listening' &&
          parsed.port !== undefined &&
          parsed.metricsPort !== undefined
        ) {
          clearTimeout(timer);
          resolve({ port: parsed.port, metricsPort: parsed.metricsPort });
        }
      } catch {
        // not JSON
      }
    });
  });
  const url = `http://${host}:${ports.port}`;
  const metricsUrl = `http://${host}:${ports.metricsPort}`;
  return {
    url,
    metricsUrl,
    child,
    output,
    exited,
    metrics: async () => (await fetch(`${metricsUrl}/metrics`)).text(),
    debug: async (path) => (await fetch(`${metricsUrl}${path}`)).json(),
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

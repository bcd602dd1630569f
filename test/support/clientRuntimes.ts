/**
 * The runtimes test/clients/ points each real client at (the Python `anthropic` SDK, LiteLLM,
 * the Vercel AI SDK, LangChain JS), all on one simulator:
 *
 * - `keyed`: client keys enforced (a wrong key is 401); plain, streamed and tool calls, the
 *   provider's 529 and a mid-stream error pass through it;
 * - `limited`: one call, then the rate limiter's 429;
 * - `openBreaker(mode)`: a ForcedOpen breaker answering as `spec.openAnswer` says, started per
 *   case; `messagesReceived` counts the client's attempts at it.
 *
 * Each in either local mode, a policy file or `--manifests` (clientPolicies.ts): every client's
 * file runs its cases once per mode.
 *
 * The Python clients run as scripts in .breakwater/clients-venv (`make clients`):
 * `runPythonClient` spawns one with the cases to run and reads its JSON lines.
 */
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_KEY,
  startClientRuntime,
  type ClientRuntime,
  type LocalMode,
  type OpenAnswerMode,
} from './clientPolicies.ts';
import type { FaultRequest } from './simulator.ts';
import { startSimulator, type SimulatorHandle } from './simulator.ts';
import { PRIMARY_MODEL, sample } from './standaloneRuntime.ts';

export { PRIMARY_MODEL };
export {
  CLIENT_KEY,
  LOCAL_MODES,
  OPEN_ANSWER_MODES,
  type ClientRuntime,
  type LocalMode,
  type OpenAnswerMode,
} from './clientPolicies.ts';

/** The runtime's own ids (requestIds.ts) and the provider's (the simulator imitates the API's). */
export const RUNTIME_ID = /^req_[A-Za-z0-9_-]{20}$/;
export const PROVIDER_ID = /^req_01[A-Za-z0-9]{22}$/;

/** The provider's 529 as the plain answer, once. */
export const PROVIDER_OVERLOADED: FaultRequest = { status: 529, count: 1 };
/** The provider's overloaded_error after some of the stream's content, once. */
export const MID_STREAM_ERROR: FaultRequest = {
  status: 529,
  inStream: 'after-content',
  count: 1,
};

export interface ClientRuntimes {
  readonly sim: SimulatorHandle;
  readonly keyed: ClientRuntime;
  readonly limited: ClientRuntime;
  stop(): Promise<void>;
}

export async function clientRuntimes(mode: LocalMode): Promise<ClientRuntimes> {
  const sim = await startSimulator({ seed: 52 });
  const started: ClientRuntime[] = [];
  try {
    // The cases' 529s and stream errors must not open its breaker.
    const keyed = await startClientRuntime(mode, sim.url, {
      clientKeys: true,
      failureThreshold: 1_000,
    });
    started.push(keyed);
    const limited = await startClientRuntime(mode, sim.url, { limited: true });
    started.push(limited);
    return {
      sim,
      keyed,
      limited,
      stop: async () => {
        await Promise.all(started.map((rt) => rt.stop()));
        await sim.stop();
      },
    };
  } catch (error) {
    await Promise.all(started.map((rt) => rt.stop()));
    await sim.stop();
    throw error;
  }
}

/** A suite of test/clients/: the runtimes, and each case's open breaker. */
export interface ClientSuite {
  /** The runtimes, started once for the suite. */
  readonly env: ClientRuntimes;
  /** A runtime with a ForcedOpen breaker for this case, stopped after it. */
  openBreaker(mode: OpenAnswerMode): Promise<ClientRuntime>;
}

/**
 * Registers a suite's hooks (call it inside a `describe.each(LOCAL_MODES)`, so that each mode
 * has its own): the runtimes started in `mode` before its cases and stopped after them, and
 * after each case the simulator's faults cleared and that case's breaker stopped.
 */
export function clientSuite(mode: LocalMode): ClientSuite {
  let env: ClientRuntimes | undefined;
  let breaker: ClientRuntime | undefined;
  beforeAll(async () => {
    env = await clientRuntimes(mode);
  });
  afterEach(async () => {
    await env?.sim.clearFaults();
    await breaker?.stop();
    breaker = undefined;
  });
  afterAll(async () => {
    await env?.stop();
  });
  const started = (): ClientRuntimes => {
    if (env === undefined) throw new Error('the client runtimes are not started');
    return env;
  };
  return {
    get env() {
      return started();
    },
    async openBreaker(answer) {
      breaker = await startClientRuntime(mode, started().sim.url, { forcedOpen: answer });
      return breaker;
    },
  };
}

/** The Messages requests the runtime has received: one per client attempt. */
export async function messagesReceived(rt: ClientRuntime): Promise<number> {
  return sample(await rt.runtime.metrics(), 'agent_requests_total', { route: '/v1/messages' });
}

export type PythonClient = 'anthropic' | 'litellm';

/** One case's line: `ok` with the case's fields, or the client's error as the script read it. */
export interface CaseLine {
  readonly case: string;
  readonly ok: boolean;
  readonly error?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

const PYTHON = fileURLToPath(new URL('../../.breakwater/clients-venv/bin/python', import.meta.url));
const SCRIPTS = fileURLToPath(new URL('../clients/', import.meta.url));

export interface PythonRun {
  readonly baseURL: string;
  readonly apiKey?: string;
  /** Replaces the client's default retries (the error cases turn them off). */
  readonly maxRetries?: number;
}

/** Runs `test/clients/<client>_client.py` with `cases`; one line per case, in order. */
export async function runPythonClient(
  client: PythonClient,
  cases: readonly string[],
  run: PythonRun,
): Promise<CaseLine[]> {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: run \`make clients\` (the Python clients' venv)`);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    BW_BASE_URL: run.baseURL,
    BW_API_KEY: run.apiKey ?? CLIENT_KEY,
    BW_MODEL: PRIMARY_MODEL,
    ...(run.maxRetries === undefined ? {} : { BW_MAX_RETRIES: String(run.maxRetries) }),
  };
  const child = spawn(PYTHON, [`${SCRIPTS}${client}_client.py`, ...cases], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const lines = stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CaseLine);
  if (code !== 0 || lines.length !== cases.length) {
    throw new Error(`${client}_client.py ${cases.join(' ')} exited ${String(code)}:\n${stderr}`);
  }
  return lines;
}

/** The one line of a single-case run. */
export async function pythonCase(
  client: PythonClient,
  name: string,
  run: PythonRun,
): Promise<CaseLine> {
  const [line] = await runPythonClient(client, [name], run);
  if (line === undefined) throw new Error(`${client}_client.py ${name} printed nothing`);
  return line;
}

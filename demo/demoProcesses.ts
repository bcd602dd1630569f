/**
 * The processes the demo runs beside the cluster: started detached, marked (the supervisor's
 * marker variable, valued with the demo's directory), logged, awaited.
 */
import { join } from 'node:path';
import {
  isAlive,
  logTail,
  markerVariable,
  startDetached,
  type ProcessRecord,
} from '../tools/cluster/supervisor.ts';
import type { DemoLayout } from './demoLayout.ts';
import type { ProcessName } from './demoState.ts';
import { EnvironmentError } from './environmentError.ts';
import { waitFor } from './waitFor.ts';

const NODE_ARGS = ['--no-warnings=ExperimentalWarning'];

export const PROCESS_LABELS: Readonly<Record<ProcessName, string>> = {
  simulator: 'LLM simulator',
  operator: 'operator',
  prometheus: 'Prometheus',
  'scrape-targets': "Prometheus' target refresher",
  'port-forwards': "agent pods' kubectl port-forwards",
};

export async function startProcess(
  layout: DemoLayout,
  name: ProcessName,
  args: readonly string[],
  command: string = process.execPath,
): Promise<ProcessRecord> {
  const started = await startDetached({
    component: name,
    command,
    args: command === process.execPath ? [...NODE_ARGS, ...args] : args,
    cwd: layout.repoRoot,
    env: { ...process.env, [markerVariable]: layout.dir },
    logFile: join(layout.logDir, `${name}.log`),
    pidFile: join(layout.runDir, `${name}.pid`),
  });
  return started.record;
}

export async function waitForHttp(
  url: string,
  record: ProcessRecord,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await waitFor(
    async () => {
      if (!isAlive(record)) {
        throw new EnvironmentError(
          `${what} exited during start; last lines of ${record.logFile}:\n${logTail(record.logFile) ?? ''}`,
        );
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        return response.ok;
      } catch {
        return false;
      }
    },
    { what: `${what} to answer ${url}`, timeoutMs: 60_000, signal, fatal: EnvironmentError },
  );
}

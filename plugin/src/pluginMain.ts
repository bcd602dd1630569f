/**
 * kubectl-breakwater: the `kubectl breakwater` plugin. kubectl finds this program on PATH and
 * runs it with the words after `breakwater`. Exit status: 0 done, 1 failed (the message names
 * the object), 2 a wrong command line. Loaded by main.ts once the Node.js version is known to
 * be new enough.
 */
import { systemClock } from '../../platform/src/time/clock.ts';
import { isKubeApiError } from '../../platform/src/kube/kubeClient.ts';
import { parsePluginArgs, USAGE, type PluginCommand } from './cli/pluginArgs.ts';
import { ObjectError } from './cluster/agentObjects.ts';
import { connect, type Connected } from './cluster/pluginKube.ts';
import { explainCommand } from './commands/explainCommand.ts';
import { overrideCommand } from './commands/overrideCommand.ts';
import { runsCommand } from './commands/runsCommand.ts';
import { statusCommand } from './commands/statusCommand.ts';
import { topCommand } from './commands/topCommand.ts';
import { formatResult, type CommandResult } from './output/printResult.ts';

const PROGRAM = 'kubectl-breakwater';

async function main(): Promise<number> {
  const args = parsePluginArgs(process.argv.slice(2));
  if (args.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.kind === 'error') {
    process.stderr.write(`${PROGRAM}: ${args.message}\n\n${USAGE}`);
    return 2;
  }
  const { command } = args;
  let connected: Connected;
  try {
    connected = connect(command.connection);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${PROGRAM}: cannot load the kubeconfig: ${message}\n`);
    return 1;
  }
  // The client's timers and idle sockets are unref'd: this holds the process while it waits.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    const result = await run(command, connected);
    process.stdout.write(formatResult(result, command.output));
    const acknowledged = (result.data as { acknowledged?: boolean }).acknowledged;
    return acknowledged === false ? 1 : 0;
  } catch (err) {
    process.stderr.write(`${PROGRAM}: ${describe(err, command)}\n`);
    return 1;
  } finally {
    clearInterval(keepAlive);
    connected.close();
  }
}

function run(
  command: PluginCommand,
  { kube, namespace }: Connected,
): Promise<CommandResult<unknown>> {
  const ns = namespace ?? 'default';
  switch (command.kind) {
    case 'status':
      return statusCommand(kube, namespace, command.agent) as Promise<CommandResult<unknown>>;
    case 'top':
      return topCommand(kube, namespace) as Promise<CommandResult<unknown>>;
    case 'explain':
      return explainCommand(kube, ns, command.agent, systemClock.now()) as Promise<
        CommandResult<unknown>
      >;
    case 'runs':
      return runsCommand(kube, ns, command.agent, command.limit, systemClock.now()) as Promise<
        CommandResult<unknown>
      >;
    case 'trip':
      return overrideCommand(
        kube,
        ns,
        command.policy,
        { kind: 'trip', forMs: command.forMs, reason: command.reason },
        { timeoutMs: command.timeoutMs, clock: systemClock },
      ) as Promise<CommandResult<unknown>>;
    case 'reset':
      return overrideCommand(
        kube,
        ns,
        command.policy,
        { kind: 'reset' },
        {
          timeoutMs: command.timeoutMs,
          clock: systemClock,
        },
      ) as Promise<CommandResult<unknown>>;
  }
}

/** An API error with the object and the verb it was about, as kubectl says them. */
function describe(err: unknown, command: PluginCommand): string {
  if (err instanceof ObjectError) return err.message;
  if (isKubeApiError(err)) {
    const what =
      command.kind === 'trip' || command.kind === 'reset'
        ? `circuitbreakerpolicy.breakwater.dev/${command.policy}`
        : command.kind === 'explain' || command.kind === 'runs'
          ? `agentdeployment.breakwater.dev/${command.agent}`
          : 'agentdeployments.breakwater.dev';
    return `${command.kind} ${what}: ${err.message} (HTTP ${String(err.status)}${err.reason === undefined ? '' : `, ${err.reason}`})`;
  }
  return err instanceof Error ? err.message : String(err);
}

process.exitCode = await main();

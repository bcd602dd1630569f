/**
 * breakwater-llm-sim: an Anthropic Messages API simulator with fault injection, for tests,
 * benchmarks and the demo. Prints one JSON line when listening; SIGTERM/SIGINT stop it
 * gracefully. Loaded by main.ts once the Node.js version is known to be new enough.
 */
import { systemClock } from '../../platform/src/time/clock.ts';
import { parseCli, USAGE } from './cliOptions.ts';
import { Simulator } from './server.ts';

/** How long answers in progress may take to finish on shutdown. */
const SHUTDOWN_GRACE_MS = 5_000;

function log(fields: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (cli.kind === 'error') {
    process.stderr.write(`breakwater-llm-sim: ${cli.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { options } = cli;
  const simulator = new Simulator(options, systemClock);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log({ msg: 'stopping', signal });
    void simulator.close(SHUTDOWN_GRACE_MS).then(() => {
      log({ msg: 'stopped' });
    });
  };
  // Before the line that says it serves: whoever reads that line may stop it at once.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const url = await simulator.listen(options.port, options.host);
  log({ msg: 'listening', url, port: Number(new URL(url).port) });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `breakwater-llm-sim: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});

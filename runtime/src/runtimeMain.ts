/**
 * breakwater-runtime: the agent runtime. Prints one JSON line `{"msg":"listening",...}` with
 * both ports once it serves; SIGTERM/SIGINT drain and stop it. Loaded by main.ts once the
 * Node.js version is known to be new enough.
 */
import { AgentRuntime } from './agentRuntime.ts';
import { parseRuntimeCli, USAGE } from './cli/runtimeOptions.ts';
import { ManifestMounts } from './policy/manifestMounts.ts';
import { startDiskSource } from './policy/policySources.ts';
import { createLogger } from './telemetry/logger.ts';
import { startTelemetry } from './telemetry/tracing.ts';
import { systemClock } from '../../platform/src/time/clock.ts';

async function main(): Promise<void> {
  const cli = parseRuntimeCli(process.argv.slice(2), process.env);
  if (cli.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (cli.kind === 'error') {
    process.stderr.write(`breakwater-runtime: ${cli.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { options } = cli;
  const logger = createLogger(options.logLevel);
  const telemetry = await startTelemetry(process.env);
  // With --manifests, the Secrets among them become the files a pod would have mounted.
  const mounts =
    options.source.kind === 'manifests' ? ManifestMounts.create(process.env) : undefined;
  const env = mounts?.env ?? process.env;
  // However the process ends short of SIGKILL, the secrets it wrote go with it.
  if (mounts !== undefined)
    process.on('exit', () => {
      mounts.remove();
    });
  const runtime = new AgentRuntime({ options, env, clock: systemClock, logger });
  // With an OTLP endpoint, the GenAI metrics /metrics shows go there too, read at each export.
  telemetry.exportMetrics(runtime.metrics.genAi);
  const sourceDeps = {
    env,
    logger,
    clock: systemClock,
    ...(mounts === undefined ? {} : { mounts }),
  };
  // In a pod the cluster integration feeds the runtime; elsewhere a policy file or manifests.
  const source =
    options.source.kind === 'cluster'
      ? await (
          await import('./cluster/clusterIntegration.ts')
        ).startClusterIntegration(options.source, runtime, sourceDeps)
      : await startDiskSource(options.source, runtime, sourceDeps);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: runtime.lifecycle.inFlight }, 'draining');
    void runtime
      .shutdown(options.shutdownGraceMs)
      .then(async ({ drained }) => {
        await source.stop();
        await telemetry.shutdown();
        logger.info({ drained }, 'stopped');
        logger.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      });
  };
  // Before the line that says it serves: whoever reads that line may stop it at once.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const { port, metricsPort } = await runtime.listen();
  // Always printed, whatever the log level: tests and the local node wait for it. Shaped as
  // every other line is, for whatever collects the log.
  const listening = {
    level: 'info',
    time: new Date().toISOString(),
    pid: process.pid,
    name: 'breakwater-runtime',
    msg: 'listening',
    port,
    metricsPort,
    source: options.source.kind,
  };
  process.stdout.write(`${JSON.stringify(listening)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `breakwater-runtime: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  // Not only an exit code: the policy source, the stores and telemetry hold the process open,
  // and a runtime that could not start must not linger as if it served.
  process.exit(1);
});

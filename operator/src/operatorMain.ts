/**
 * breakwater-operator: reconciles AgentDeployment, CircuitBreakerPolicy and RateLimitPolicy.
 *
 *   breakwater-operator [--kubeconfig PATH] [--namespace NS] [--metrics-port 8080]
 *                       [--health-port 8081] [--leader-elect] [--runtime-image IMAGE]
 *
 * Loaded by main.ts once the Node.js version is known to be new enough.
 */
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { HttpKubeClient } from '../../platform/src/kube/httpKubeClient.ts';
import { DEFAULT_RUNTIME_IMAGE } from './builders/index.ts';
import { Controller } from './controller/controller.ts';
import { OperatorMetrics } from './controller/operatorMetrics.ts';
import { LeaderElector } from './machinery/leaderElection.ts';
import { createOperatorLogger } from './operatorLogger.ts';
import { errorMessage } from '../../platform/src/node/errorMessage.ts';

/** node:http from its CommonJS exports: an ESM import loads Node's internal undici. */
const { createServer } = process.getBuiltinModule('node:http');

const USAGE = `Usage: breakwater-operator [flags]

  --kubeconfig PATH        kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS           watch only this namespace (default: all namespaces)
  --metrics-port N         Prometheus metrics on :N/metrics (default 8080; env PORT_METRICS)
  --health-port N          /healthz and /readyz on :N (default 8081; env PORT_HEALTH)
  --leader-elect           hold a Lease so only one replica reconciles (default off)
  --leader-election-namespace NS
                           namespace of the Lease (default: $POD_NAMESPACE or "default")
  --runtime-image IMAGE    image of agent pods (default ${DEFAULT_RUNTIME_IMAGE})
  --log-level LEVEL        fatal|error|warn|info|debug|trace (default info)
  --help                   show this help
`;

/**
 * How long running reconciles may take to finish after SIGTERM. Then their calls are aborted:
 * an API server that went away would otherwise hold each one for the client's 60 s timeout.
 */
const DRAIN_TIMEOUT_MS = 5_000;

function port(value: string | undefined, fallback: number, flag: string): number {
  const raw = value ?? String(fallback);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    process.stderr.write(`error: ${flag} must be a port number from 0 to 65535, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'metrics-port': { type: 'string' },
        'health-port': { type: 'string' },
        'leader-elect': { type: 'boolean', default: false },
        'leader-election-namespace': { type: 'string' },
        'runtime-image': { type: 'string', default: DEFAULT_RUNTIME_IMAGE },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

function listen(server: Server, portNumber: number, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${portNumber} (${flag}) is already in use; pick another with ${flag}`)
          : err,
      );
    });
    server.listen(portNumber, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : portNumber);
    });
  });
}

/** True when `work` settles within `ms`, false when the time runs out first. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
  });
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const flags = parseFlags();
  if (flags.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = createOperatorLogger(flags['log-level']);
  const metricsPort = port(
    flags['metrics-port'] ?? process.env.PORT_METRICS,
    8080,
    '--metrics-port',
  );
  const healthPort = port(flags['health-port'] ?? process.env.PORT_HEALTH, 8081, '--health-port');
  const client = HttpKubeClient.fromKubeconfig(flags.kubeconfig);
  const metrics = new OperatorMetrics();
  const controller = new Controller({
    client,
    log,
    metrics,
    options: { runtimeImage: flags['runtime-image'], namespace: flags.namespace },
  });

  let ready = false;
  let shuttingDown = false;
  const health = createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && ready && !shuttingDown);
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify({ ok, leader: elector?.isLeader ?? true }));
  });
  const metricsServer = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry
      .metrics()
      .then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      })
      .catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
  });
  const boundHealth = await listen(health, healthPort, '--health-port');
  const boundMetrics = await listen(metricsServer, metricsPort, '--metrics-port');
  log.info({ healthPort: boundHealth, metricsPort: boundMetrics }, 'serving health and metrics');

  // The lease has a client of its own: shutdown closes the controller's client to abort calls
  // stuck on an API server that went away, and the lease release still gets its short try.
  const leaseClient = flags['leader-elect']
    ? HttpKubeClient.fromKubeconfig(flags.kubeconfig)
    : undefined;
  const elector = leaseClient
    ? new LeaderElector({
        client: leaseClient,
        namespace: flags['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? 'default',
        name: 'breakwater-operator',
        identity: `${hostname()}-${process.pid}`,
        onError: (err) => {
          log.warn({ err }, 'leader election error');
        },
      })
    : undefined;

  const stop = async (signal: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(
      { signal, timeoutMs: DRAIN_TIMEOUT_MS },
      'shutting down: finishing running reconciles',
    );
    const drained = await settlesWithin(controller.stop(), DRAIN_TIMEOUT_MS);
    if (!drained) {
      log.warn(
        { timeoutMs: DRAIN_TIMEOUT_MS },
        'reconciles still wait on the API server; abandoning them',
      );
    }
    client.close();
    const lease = await elector?.stop();
    leaseClient?.close();
    health.close();
    metricsServer.close();
    log.info({ drained, ...(lease === undefined ? {} : { lease }) }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  const lead = async (lost?: AbortSignal): Promise<void> => {
    metrics.leader.set(1);
    log.info('starting controllers');
    await controller.start();
    ready = true;
    log.info('caches synced; reconciling');
    if (lost === undefined) return;
    await new Promise<void>((resolve) => {
      lost.addEventListener('abort', () => {
        resolve();
      });
    });
    if (!shuttingDown) {
      // Another replica leads now; exit so the Deployment restarts us as a clean standby.
      log.error('lost the leader lease; exiting');
      process.exit(1);
    }
  };
  if (elector === undefined) {
    await lead();
  } else {
    ready = true; // a standby is ready: it serves probes and waits for the lease
    log.info('waiting for the leader lease');
    await elector.run(lead);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`breakwater-operator: ${errorMessage(err)}\n`);
  process.exit(1);
});

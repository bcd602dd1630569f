/**
 * The local node: a stand-in for kubelet and a container runtime, for tests and local
 * development only. It registers Node `local-node` and runs every pod the scheduler binds to
 * it as local processes (see README.md in this folder).
 *
 *   node --no-warnings=ExperimentalWarning tools/cluster/localNode/main.ts \
 *     --kubeconfig .breakwater/kubeconfig --state-dir .breakwater/localnode \
 *     --images tools/cluster/images.json
 */
import { networkInterfaces } from 'node:os';
import { relative } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { HttpKubeClient } from '../../../platform/src/kube/httpKubeClient.ts';
import { systemClock } from '../../../platform/src/time/clock.ts';
import { localLauncher } from './containerProcess.ts';
import { ContainerMode } from './containerMode.ts';
import { ContainerRuntime } from './containerRuntime.ts';
import { loadImageTable } from './imageTable.ts';
import { acquireInstanceLock } from './instanceLock.ts';
import { errorMessage, jsonLogger } from './log.ts';
import { NodeAgent } from './nodeRegistration.ts';
import { parseOptions, type LocalNodeOptions } from './options.ts';
import { PortAllocator } from './portAllocation.ts';
import { PodEventRecorder } from './podEvents.ts';
import { PodManager } from './podManager.ts';
import { watchNodePods } from './podWatch.ts';
import { PodWorker, type PodWorkerDeps } from './podWorker.ts';
import { ProcessRecords } from './processRecords.ts';
import { backoffFrom } from './restartBackoff.ts';
import { clusterAccessFrom } from './serviceAccountCredentials.ts';

/** On shutdown no pod waits longer than this for its processes, so cluster-down stays quick. */
const shutdownGraceCapMs = 10_000;
/** What every process inherits from the local node's own environment; the rest is the pod's. */
// BREAKWATER_CLUSTER marks every process of the cluster, pods included, so `cluster-down`
// finds pod processes even when the local node itself was killed with SIGKILL.
const inheritedEnv = [
  'PATH',
  'HOME',
  'USER',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'BREAKWATER_CLUSTER',
];

async function main(options: LocalNodeOptions): Promise<void> {
  const log = jsonLogger().child({ component: 'local-node' });
  const podIP = options.podIP === 'auto' ? hostAddress() : options.podIP;
  const clock = systemClock;
  const config = new KubeConfig();
  config.loadFromFile(options.kubeconfig);
  const client = new HttpKubeClient(config);
  // Timers are unref'd (the Clock contract); this keeps the process up between events.
  const keepAlive = setInterval(() => undefined, 1 << 30);

  const lock = acquireInstanceLock(options.stateDir);
  process.on('exit', () => {
    lock.release();
  });
  const records = new ProcessRecords(options.stateDir);
  const reaped = await records.reapStale(log);
  if (reaped > 0)
    log.info('stopped processes an earlier local node left behind', { count: reaped });

  const runtime = new ContainerRuntime(options.repo, options.stateDir, log);
  const leftovers = await runtime.removeLeftovers();
  if (leftovers > 0)
    log.info('removed containers an earlier local node left behind', { count: leftovers });

  const imagesSource = displayPath(options.imagesFile, options.repo);
  const images = () =>
    loadImageTable(options.imagesFile, imagesSource, {
      repo: options.repo,
      node: process.execPath,
    });
  await images().catch((err: unknown) => {
    log.error('image table is invalid; pods will wait with ErrImagePull', {
      error: errorMessage(err),
    });
  });

  const node = new NodeAgent({
    client,
    clock,
    log,
    nodeName: options.nodeName,
    address: podIP,
    kubeletVersion: options.kubeletVersion,
  });
  await untilItWorks(
    () => node.register(),
    (err, attempt) => {
      log.warn('cannot register the node yet', { error: errorMessage(err), attempt });
    },
  );
  node.start();

  const cluster = await clusterAccessFrom(config);
  const deps: PodWorkerDeps = {
    client,
    clock,
    log,
    backoff: backoffFrom(options.restartBackoffBaseMs),
    secretVolumeSyncMs: options.secretVolumeSyncMs,
    launcher: runtime.launcher(localLauncher),
    ports: new PortAllocator(),
    images,
    records,
    podIP,
    baseEnv: Object.fromEntries(
      inheritedEnv.flatMap((name) => {
        const value = process.env[name];
        return value === undefined ? [] : [[name, value]];
      }),
    ),
    cluster,
    events: new PodEventRecorder({ client, clock, log, nodeName: options.nodeName }),
    containers: new ContainerMode({ client, runtime, cluster }),
  };
  const manager = new PodManager({
    nodeName: options.nodeName,
    client,
    log,
    createWorker: (pod) => new PodWorker(pod, deps),
  });
  const informer = watchNodePods({ client, clock, log, nodeName: options.nodeName });
  informer.on(manager.handlers);

  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) {
      log.warn('already stopping pods; waiting for them', { signal });
      return;
    }
    shuttingDown = true;
    log.info('stopping: terminating every pod process', { signal, pods: manager.size });
    node.stop();
    void (async () => {
      await informer.stop();
      await manager.shutdown(shutdownGraceCapMs);
      log.info('stopped');
      clearInterval(keepAlive);
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
  process.on('unhandledRejection', (reason) => {
    log.error('unhandled rejection', { error: errorMessage(reason) });
  });

  await informer.start();
  log.info('local node is ready', {
    node: options.nodeName,
    stateDir: options.stateDir,
    images: imagesSource,
    restartBackoffBaseMs: options.restartBackoffBaseMs,
    secretVolumeSyncMs: options.secretVolumeSyncMs,
  });
}

async function untilItWorks(
  attempt: () => Promise<void>,
  onFailure: (err: unknown, attempt: number) => void,
): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (err) {
      onFailure(err, n);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** n)));
    }
  }
}

/**
 * This host's first non-loopback IPv4 address, for --pod-ip auto: EndpointSlices refuse
 * loopback addresses, so Services only get endpoints with a pod IP like this one.
 */
function hostAddress(): string {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return addresses.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
}

/** `tools/cluster/images.json` inside the checkout, the absolute path elsewhere. */
function displayPath(path: string, repo: string): string {
  const inside = relative(repo, path);
  return inside.startsWith('..') ? path : inside;
}

let options: LocalNodeOptions;
try {
  options = parseOptions(process.argv.slice(2), process.cwd());
} catch (err) {
  process.stderr.write(`${errorMessage(err)}\n`);
  process.exit(2);
}
main(options).catch((err: unknown) => {
  process.stderr.write(`local node failed: ${errorMessage(err)}\n`);
  process.exit(1);
});

import { existsSync } from 'node:fs';
import { resolveBinaries, type Binaries } from './binaries.ts';
import { ClusterError } from './clusterError.ts';
import { readClusterRecord, writeClusterRecord, type ClusterRecord } from './clusterRecord.ts';
import {
  componentCommand,
  componentKubeconfig,
  type ComponentCommandInputs,
} from './componentArgs.ts';
import { componentHealth, type ComponentHealth } from './componentHealth.ts';
import {
  readRecords,
  resolveOptions,
  startComponent,
  stopComponents,
  timing,
  type ClusterOptions,
} from './componentLifecycle.ts';
import { writeKubeconfig } from './kubeconfigFile.ts';
import {
  clusterName,
  componentNames,
  logFile,
  pidFile,
  portsFromEnv,
  type ClusterLayout,
  type ClusterPorts,
  type ComponentName,
} from './layout.ts';
import { acquireLock } from './lock.ts';
import { generatePki, pkiFiles, pkiIsUsable, type PkiFiles } from './pki.ts';
import { errorText, pollUntil } from './polling.ts';
import { findPortConflicts, type PortConflict } from './ports.ts';
import { seconds, type Progress } from './progress.ts';
import { nodeKindFromEnv, realNodeLayout } from './realNode/nodeLayout.ts';
import { hostAddress } from './realNode/nodeProcesses.ts';
import { loadProjectImage } from './realNode/projectImage.ts';
import { ensureRealNode } from './realNode/realNode.ts';
import {
  isAlive,
  logTail,
  stopProcess,
  type ProcessRecord,
  type StartedProcess,
} from './supervisor.ts';

/** How long a component that is already running may take to look healthy before it is restarted. */
const recoveryMs = 8_000;
/** A cold `up` may first build the binaries, which takes minutes. */
const lockTimeoutMs = 20 * 60_000;

export type { ClusterOptions } from './componentLifecycle.ts';
export { clusterDown, type DownResult } from './clusterDown.ts';
export { clusterStatus, type ComponentStatus, type StatusReport } from './clusterStatus.ts';

export interface UpResult {
  readonly kubeconfig: string;
  /** The kubectl that matches the server's version. */
  readonly kubectl: string;
  /** Everything was running and healthy already: this call started nothing. */
  readonly wasRunning: boolean;
  readonly started: readonly ComponentName[];
  readonly elapsedMs: number;
  /** With a node: where its pods reach this machine, and the project's image it holds. */
  readonly node: NodeReach | undefined;
}

export interface NodeReach {
  /** This machine's address, which pods reach (the API server advertises it too). */
  readonly hostAddress: string;
  /** Breakwater's image, built from this checkout and imported (realNode/projectImage.ts). */
  readonly image: string;
  /** The node's containerd, where further images a test builds go. */
  readonly containerdSocket: string;
}

/**
 * Brings the local cluster up, or repairs what is missing, and waits until it is ready.
 * Safe to call again and again; only one call works at a time.
 */
export async function clusterUp(options: ClusterOptions = {}): Promise<UpResult> {
  const resolved = resolveOptions(options);
  const release = await acquireLock(resolved.layout.lockFile, resolved.progress, lockTimeoutMs);
  try {
    return await up(resolved);
  } finally {
    await release();
  }
}

async function up({ layout, env, progress }: Required<ClusterOptions>): Promise<UpResult> {
  const began = Date.now();
  const kind = nodeKindFromEnv(env);
  const components = componentNames;
  if (kind === 'none') {
    progress(
      'no node: the control plane alone (BREAKWATER_NODE=none, or not root on Linux, where the ' +
        'kubelet cannot run); pods stay Pending',
    );
  }
  const records = await readRecords(layout, components);
  const alive = (name: ComponentName): ProcessRecord | undefined => {
    const record = records.get(name);
    return record !== undefined && isAlive(record) ? record : undefined;
  };
  const previous = await readClusterRecord(layout.recordFile);
  const runningKind = previous?.node ?? 'none';
  if (runningKind !== kind && componentNames.some((c) => alive(c) !== undefined)) {
    throw new ClusterError(
      'InvalidConfig',
      `the cluster runs the ${runningKind} node, not the ${kind} one (BREAKWATER_NODE); ` +
        '`make cluster-down` first to switch',
      { component: 'cluster' },
    );
  }
  const ports = choosePorts(
    previous,
    portsFromEnv(env),
    components.some((c) => alive(c)),
    progress,
  );
  const pki = pkiFiles(layout.pkiDir);
  const health = componentHealth(ports, pki);
  const ensureNode = async (kubectl: string, address: string): Promise<NodeReach> => {
    await ensureRealNode({
      cluster: layout,
      pki,
      apiserverPort: ports.apiserver,
      kubectl,
      address,
      progress,
    });
    const image = await loadProjectImage(layout, env, progress);
    return {
      hostAddress: address,
      image: image.ref,
      containerdSocket: realNodeLayout(layout).containerdSocket,
    };
  };

  if (previous !== undefined && components.every((c) => alive(c)) && pkiIsUsable(pki)) {
    const checks = await Promise.allSettled(components.map((c) => health.healthy(c)));
    if (checks.every((check) => check.status === 'fulfilled')) {
      if (!existsSync(layout.kubeconfig)) await writeKubeconfigs(layout, ports, pki);
      const node =
        kind === 'kubelet'
          ? await ensureNode(previous.binaries.kubectl.path, await hostAddress())
          : undefined;
      progress(`local cluster is already running and healthy (kubeconfig: ${layout.kubeconfig})`);
      return {
        kubeconfig: layout.kubeconfig,
        kubectl: previous.binaries.kubectl.path,
        wasRunning: true,
        started: [],
        elapsedMs: Date.now() - began,
        node,
      };
    }
  }

  const binaries = await resolveBinaries(layout, env, progress);
  if (!pkiIsUsable(pki)) {
    const running = components.filter((c) => alive(c));
    if (running.length > 0) {
      progress('certificates are missing or about to expire: stopping the cluster to renew them');
      await stopComponents(layout, records, running, progress);
    }
    progress('generating the CA, certificates and service-account keys (openssl)');
    await generatePki(layout.pkiDir);
  }
  await writeKubeconfigs(layout, ports, pki);
  await writeClusterRecord(layout.recordFile, {
    ports,
    binaries,
    startedAt: new Date().toISOString(),
    node: kind,
  });

  // Report every port conflict at once, before anything starts.
  const address = kind === 'kubelet' ? await hostAddress() : undefined;
  const inputs = commandInputs(layout, ports, pki, binaries, address);
  const conflicts = await findPortConflicts(
    components.filter((c) => !alive(c)).flatMap((c) => componentCommand(c, inputs).ports),
  );
  if (conflicts.length > 0) {
    throw new ClusterError(
      'PortInUse',
      conflicts.map(describeConflict).join('\n') +
        '\nStop that process or move the port; if it is a leftover of this cluster, ' +
        '`make cluster-down` stops it.',
      { component: 'ports' },
    );
  }

  const context: StartContext = { layout, inputs, health, progress, records, alive };
  const started: ComponentName[] = [];
  const ensure = async (name: ComponentName): Promise<void> => {
    if (await ensureComponent(name, context)) started.push(name);
  };
  // etcd, then the API server, then everything that talks to it, together.
  await ensure('etcd');
  await ensure('kube-apiserver');
  await Promise.all(components.filter((c) => c !== 'etcd' && c !== 'kube-apiserver').map(ensure));
  const node = address === undefined ? undefined : await ensureNode(binaries.kubectl.path, address);

  const elapsedMs = Date.now() - began;
  progress(`local cluster ready in ${seconds(elapsedMs)} (kubeconfig: ${layout.kubeconfig})`);
  return {
    kubeconfig: layout.kubeconfig,
    kubectl: binaries.kubectl.path,
    wasRunning: false,
    started,
    elapsedMs,
    node,
  };
}

function describeConflict(conflict: PortConflict): string {
  return (
    `port ${conflict.port} (${conflict.purpose}) is in use by ` +
    `${conflict.holder ?? 'another process'}; ${conflict.variable}=<port> moves it`
  );
}

function choosePorts(
  previous: ClusterRecord | undefined,
  fromEnv: ClusterPorts,
  anyRunning: boolean,
  progress: Progress,
): ClusterPorts {
  if (!anyRunning || previous === undefined) return fromEnv;
  if (JSON.stringify(previous.ports) !== JSON.stringify(fromEnv)) {
    progress(
      'note: the cluster already runs on the ports it was started with; ' +
        'run `make cluster-down` first to change them',
    );
  }
  return previous.ports;
}

function commandInputs(
  layout: ClusterLayout,
  ports: ClusterPorts,
  pki: PkiFiles,
  binaries: Binaries,
  realNodeAddress: string | undefined,
): ComponentCommandInputs {
  return {
    layout,
    ports,
    pki,
    ...(realNodeAddress === undefined ? {} : { realNodeAddress }),
    binaries: {
      etcd: binaries.etcd.path,
      'kube-apiserver': binaries['kube-apiserver'].path,
      'kube-controller-manager': binaries['kube-controller-manager'].path,
      'kube-scheduler': binaries['kube-scheduler'].path,
    },
  };
}

async function writeKubeconfigs(
  layout: ClusterLayout,
  ports: ClusterPorts,
  pki: PkiFiles,
): Promise<void> {
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const base = { clusterName, server, caCertFile: pki.ca.cert };
  await Promise.all([
    writeKubeconfig(layout.kubeconfig, {
      ...base,
      user: 'breakwater-admin',
      client: pki.leaf('admin'),
    }),
    writeKubeconfig(componentKubeconfig(layout, 'kube-controller-manager'), {
      ...base,
      user: 'system:kube-controller-manager',
      client: pki.leaf('controller-manager'),
    }),
    writeKubeconfig(componentKubeconfig(layout, 'kube-scheduler'), {
      ...base,
      user: 'system:kube-scheduler',
      client: pki.leaf('scheduler'),
    }),
  ]);
}

interface StartContext {
  readonly layout: ClusterLayout;
  readonly inputs: ComponentCommandInputs;
  readonly health: ComponentHealth;
  readonly progress: Progress;
  readonly records: ReadonlyMap<ComponentName, ProcessRecord>;
  alive(name: ComponentName): ProcessRecord | undefined;
}

/**
 * Leaves a healthy component alone, restarts one that runs but does not recover, starts a
 * missing one; then waits until it is ready. Returns whether it started a process.
 */
async function ensureComponent(name: ComponentName, context: StartContext): Promise<boolean> {
  const { layout, health, progress } = context;
  const running = context.alive(name);
  if (running !== undefined) {
    const outcome = await pollUntil(() => health.ready(name), {
      timeoutMs: recoveryMs,
      intervalMs: 250,
      abortIf: () => (isAlive(running) ? undefined : 'it exited'),
    });
    if (outcome.kind === 'done') {
      progress(`✓ ${name} already running (pid ${running.pid})`);
      return false;
    }
    const why = outcome.kind === 'aborted' ? outcome.reason : errorText(outcome.lastError);
    progress(`${name} (pid ${running.pid}) is running but not healthy (${why}): restarting it`);
    await stopProcess(running, { graceMs: timing[name].stopGraceMs });
    const [conflict] = await findPortConflicts(componentCommand(name, context.inputs).ports);
    if (conflict !== undefined) {
      throw new ClusterError('PortInUse', describeConflict(conflict), { component: name });
    }
  }

  const launched = await startComponent(
    layout,
    {
      name,
      command: componentCommand(name, context.inputs),
      logFile: logFile(layout, name),
      pidFile: pidFile(layout, name),
    },
    progress,
  );
  await waitUntilReady(name, launched, context);
  return true;
}

async function waitUntilReady(
  name: ComponentName,
  started: StartedProcess,
  { layout, health, progress }: StartContext,
): Promise<void> {
  const log = logFile(layout, name);
  const what = `${name} to be ready`;
  const outcome = await pollUntil(() => health.ready(name), {
    timeoutMs: timing[name].readyMs,
    intervalMs: 200,
    onWaiting: (elapsed) => {
      progress(`  waiting for ${what} (${seconds(elapsed)})`);
    },
    abortIf: () => {
      const exit = started.exitStatus();
      if (exit !== undefined) {
        return exit.signal === null
          ? `exited with code ${exit.code ?? '?'}`
          : `was killed by ${exit.signal}`;
      }
      return isAlive(started.record) ? undefined : 'is no longer running';
    },
  });
  const tail = { logPath: log, logTail: logTail(log) ?? '(empty log)', component: name };
  switch (outcome.kind) {
    case 'done':
      progress(`✓ ${name} ready in ${seconds(outcome.elapsedMs)}`);
      return;
    case 'aborted':
      throw new ClusterError('ExitedEarly', `${outcome.reason} before it was ready`, tail);
    case 'timeout':
      throw new ClusterError(
        'NotReady',
        `not ready after ${seconds(outcome.elapsedMs)}: ${errorText(outcome.lastError)}`,
        tail,
      );
  }
}

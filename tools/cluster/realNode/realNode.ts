import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuildScript } from '../binaries.ts';
import { ClusterError } from '../clusterError.ts';
import { startComponent } from '../componentLifecycle.ts';
import { writeKubeconfig } from '../kubeconfigFile.ts';
import { clusterName, type ClusterLayout } from '../layout.ts';
import { ensureClientCertificate, type PkiFiles } from '../pki.ts';
import { errorText, pollUntil } from '../polling.ts';
import { findPortConflicts } from '../ports.ts';
import { seconds, type Progress } from '../progress.ts';
import { runCommand } from '../runCommand.ts';
import { isAlive, logTail, stopProcess } from '../supervisor.ts';
import { coreDnsManifests } from './coreDns.ts';
import { snapshotHost } from './hostState.ts';
import { cniConflist, containerdConfig, kubeletConfig, kubeProxyConfig } from './nodeConfigs.ts';
import { buildNodeImages, importNodeImages } from './nodeImages.ts';
import {
  podBridge,
  realNodeComponents,
  realNodeLayout,
  realNodeName,
  realNodePorts,
  relativeToRepo as rel,
  type RealNodeComponent,
  type RealNodeLayout,
} from './nodeLayout.ts';
import {
  containerdHealthy,
  kubeletHealthy,
  kubeProxyHealthy,
  nodeCommand,
  nodeLogFile,
  nodePidFile,
  nodeTiming,
  readNodeRecords,
  type NodeBinaries,
} from './nodeProcesses.ts';

/**
 * The real node: containerd, the kubelet and kube-proxy as supervised processes next to the
 * control plane, and CoreDNS as a Deployment. Before its first start the host's state is written
 * down; `stopRealNode` stops the pods and processes and puts the host back as it was.
 */
export interface RealNodeContext {
  readonly cluster: ClusterLayout;
  readonly pki: PkiFiles;
  readonly apiserverPort: number;
  readonly kubectl: string;
  /** The host's address, as the API server advertises it. */
  readonly address: string;
  readonly progress: Progress;
}

const installScript = (cluster: ClusterLayout) =>
  join(cluster.repoRoot, 'tools', 'cluster', 'install-node-packages.sh');
const imagesScript = (cluster: ClusterLayout) =>
  join(cluster.repoRoot, 'tools', 'cluster', 'build-node-images.sh');

/** Starts what of the real node is missing or unhealthy and waits until it serves. */
export async function ensureRealNode(context: RealNodeContext): Promise<RealNodeComponent[]> {
  const { cluster, progress } = context;
  const node = realNodeLayout(cluster);
  const records = await readNodeRecords(cluster);
  const alive = (name: RealNodeComponent) => {
    const record = records.get(name);
    return record !== undefined && isAlive(record) ? record : undefined;
  };
  const healthy = (name: RealNodeComponent, sinceMs?: number): Promise<true> => {
    switch (name) {
      case 'containerd':
        return containerdHealthy(node);
      case 'kubelet':
        return kubeletHealthy(context.pki, context.apiserverPort, sinceMs);
      case 'kube-proxy':
        return kubeProxyHealthy();
    }
  };

  const install = await runCommand('bash', [installScript(cluster)], {
    allowFailure: true,
    timeoutMs: 600_000,
  });
  for (const line of install.stderr.split('\n')) if (line.startsWith('>>')) progress(line);
  if (install.code !== 0) {
    throw new ClusterError('ToolMissing', install.stderr.trim().replace(/^error: /, ''), {
      component: 'host packages',
    });
  }
  // Before anything touches the host: a second real node would share its iptables and netns.
  for (const name of realNodeComponents)
    if (alive(name) === undefined) await refuseTakenPorts(name);
  if (realNodeComponents.every((c) => alive(c) === undefined)) await clearDeadBridge(progress);
  if (!existsSync(node.hostSnapshot) && realNodeComponents.every((c) => alive(c) === undefined)) {
    await mkdir(node.dir, { recursive: true });
    await writeFile(node.hostSnapshot, `${JSON.stringify(await snapshotHost(), null, 2)}\n`);
    progress(
      `host state written down before the node's first start (${rel(cluster, node.hostSnapshot)})`,
    );
  }

  warnWithoutBridgeNetfilter(progress);
  const binDir = await runBuildScript(cluster.buildScript, ['kubelet', 'kube-proxy'], progress);
  const binaries: NodeBinaries = {
    kubelet: join(binDir, 'kubelet'),
    kubeProxy: join(binDir, 'kube-proxy'),
  };
  const images = await buildNodeImages(imagesScript(cluster), progress);
  await writeNodeFiles(context, node, images.refs.pause);

  const started: RealNodeComponent[] = [];
  for (const name of realNodeComponents) {
    const running = alive(name);
    if (running !== undefined) {
      const check = await pollUntil(() => healthy(name), { timeoutMs: 8000, intervalMs: 250 });
      if (check.kind === 'done') {
        progress(`✓ ${name} already running (pid ${running.pid})`);
        if (name === 'containerd') await importNodeImages(images, node.containerdSocket, progress);
        continue;
      }
      progress(`${name} (pid ${running.pid}) is running but not healthy: restarting it`);
      await stopProcess(running, { graceMs: nodeTiming[name].stopGraceMs });
    }
    await refuseTakenPorts(name);
    const log = nodeLogFile(cluster, name);
    const launched = await startComponent(
      cluster,
      {
        name,
        command: nodeCommand(name, node, binaries, context.address),
        logFile: log,
        pidFile: nodePidFile(cluster, name),
      },
      progress,
    );
    const since = Date.parse(launched.record.startedAt);
    const what = name === 'kubelet' ? `Node ${realNodeName} to be Ready` : `${name} to be ready`;
    const outcome = await pollUntil(() => healthy(name, since), {
      timeoutMs: nodeTiming[name].readyMs,
      intervalMs: 250,
      onWaiting: (elapsed) => {
        progress(`  waiting for ${what} (${seconds(elapsed)})`);
      },
      abortIf: () => (isAlive(launched.record) ? undefined : 'it exited'),
    });
    if (outcome.kind !== 'done') {
      const why = outcome.kind === 'aborted' ? outcome.reason : errorText(outcome.lastError);
      throw new ClusterError('NotReady', `not ready: ${why}`, {
        component: name,
        logPath: log,
        logTail: logTail(log) ?? '(empty log)',
      });
    }
    progress(`✓ ${name} ready in ${seconds(outcome.elapsedMs)}`);
    started.push(name);
    if (name === 'containerd') await importNodeImages(images, node.containerdSocket, progress);
  }
  await ensureCoreDns(context, images.refs.coredns);
  return started;
}

/**
 * Without br_netfilter, a reply between two pods on the bridge skips iptables, so a pod that
 * reaches another through a Service (DNS through kube-dns, say) gets the answer from the wrong
 * address. Loading a kernel module is the host's decision, not the cluster's: say it.
 */
function warnWithoutBridgeNetfilter(progress: Progress): void {
  let value: string | undefined;
  try {
    value = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();
  } catch {
    value = undefined;
  }
  if (value === '1') return;
  progress(
    'warning: br_netfilter is not loaded (or bridge-nf-call-iptables is 0): pods will not reach ' +
      'other pods on this node through Services; `modprobe br_netfilter` fixes that',
  );
}

/**
 * A real node that died without its teardown (killed with its session, say) leaves its pod
 * bridge with the pods' network namespaces still plugged in, each still holding its address.
 * A node started in another checkout allocates the same addresses again, and the bridge then
 * has two ports answering for one: calls reach a dead pod or a live one by the luck of ARP.
 * With no node of ours running, the bridge and every port on it are ours and dead: removed,
 * before the host's state is written down. (A node of this checkout has its own records and
 * is put back by `down`; this is for the one nobody can stop any more.)
 */
async function clearDeadBridge(progress: Progress): Promise<void> {
  const ports = `/sys/class/net/${podBridge}/brif`;
  if (!existsSync(`/sys/class/net/${podBridge}`)) return;
  const plugged = existsSync(ports) ? await readdir(ports) : [];
  // Deleting a veth's host end takes its pod end (and the pod's address) with it.
  for (const port of plugged)
    await runCommand('ip', ['link', 'delete', port], { allowFailure: true });
  await runCommand('ip', ['link', 'delete', podBridge], { allowFailure: true });
  progress(
    `removed the pod bridge ${podBridge} and ${String(plugged.length)} pod link(s) a real node ` +
      'left when it stopped without its teardown',
  );
}

/**
 * kube-proxy exits when its config file is written, even with the same content: a repeated `up`
 * must leave unchanged files alone.
 */
async function writeIfChanged(path: string, content: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== content) await writeFile(path, content);
}

const portsOf: Readonly<Record<RealNodeComponent, readonly number[]>> = {
  containerd: [],
  kubelet: [realNodePorts.kubelet, realNodePorts.kubeletHealthz],
  'kube-proxy': [realNodePorts.kubeProxyHealthz, realNodePorts.kubeProxyMetrics],
};

/** The node's ports are fixed: another real node (or a kubelet) on this host holds them. */
async function refuseTakenPorts(name: RealNodeComponent): Promise<void> {
  const claims = portsOf[name].map((port) => ({ port, purpose: `${name} port`, variable: '' }));
  const conflicts = await findPortConflicts(claims);
  if (conflicts.length === 0) return;
  throw new ClusterError(
    'PortInUse',
    conflicts
      .map((c) => `port ${c.port} (${c.purpose}) is in use by ${c.holder ?? 'another process'}`)
      .join('\n') + '\nOnly one real node runs per host; stop the other one first.',
    { component: name },
  );
}

async function writeNodeFiles(
  context: RealNodeContext,
  node: RealNodeLayout,
  sandboxImage: string,
): Promise<void> {
  const { pki } = context;
  await Promise.all(
    [
      node.containerdRoot,
      node.containerdState,
      node.kubeletRoot,
      node.cniConfDir,
      node.cniDataDir,
    ].map((dir) => mkdir(dir, { recursive: true })),
  );
  const kubelet = await ensureClientCertificate(pki, node.pkiDir, {
    name: 'kubelet-client',
    subject: `/O=system:nodes/CN=system:node:${realNodeName}`,
  });
  const proxy = await ensureClientCertificate(pki, node.pkiDir, {
    name: 'kube-proxy-client',
    subject: '/CN=system:kube-proxy',
  });
  const server = `https://127.0.0.1:${context.apiserverPort}`;
  const base = { clusterName, server, caCertFile: pki.ca.cert };
  const { stdout: runc } = await runCommand('sh', ['-c', 'command -v runc']);
  await Promise.all([
    writeKubeconfig(node.kubeletKubeconfig, {
      ...base,
      user: `system:node:${realNodeName}`,
      client: kubelet,
    }),
    writeKubeconfig(node.kubeProxyKubeconfig, {
      ...base,
      user: 'system:kube-proxy',
      client: proxy,
    }),
    writeIfChanged(
      node.containerdConfig,
      containerdConfig({ layout: node, sandboxImage, runc: runc.trim() }),
    ),
    writeIfChanged(join(node.cniConfDir, '10-breakwater.conflist'), cniConflist(node)),
    writeIfChanged(node.kubeletConfig, kubeletConfig({ layout: node, caFile: pki.ca.cert })),
    writeIfChanged(node.kubeProxyConfig, kubeProxyConfig(node)),
  ]);
}

async function ensureCoreDns(context: RealNodeContext, image: string): Promise<void> {
  const { kubectl, cluster, progress } = context;
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
  const manifest = coreDnsManifests(image)
    .map((object) => JSON.stringify(object))
    .join('\n---\n');
  await runCommand(
    kubectl,
    [
      'apply',
      '--server-side',
      '--field-manager=breakwater-cluster',
      '--force-conflicts',
      '-f',
      '-',
    ],
    { input: manifest, env },
  );
  const outcome = await pollUntil(
    async () => {
      const { stdout } = await runCommand(
        kubectl,
        [
          'get',
          'deployment',
          'coredns',
          '-n',
          'kube-system',
          '-o',
          'jsonpath={.status.availableReplicas}',
        ],
        { env },
      );
      return Number(stdout.trim() || '0') >= 1;
    },
    {
      timeoutMs: 120_000,
      intervalMs: 500,
      onWaiting: (elapsed) => {
        progress(`  waiting for CoreDNS to be available (${seconds(elapsed)})`);
      },
    },
  );
  if (outcome.kind !== 'done') {
    throw new ClusterError(
      'NotReady',
      `CoreDNS not available: ${errorText(outcome.kind === 'timeout' ? outcome.lastError : outcome.reason)}`,
      {
        component: 'coredns',
      },
    );
  }
  progress(`✓ coredns available (Service kube-system/kube-dns)`);
}

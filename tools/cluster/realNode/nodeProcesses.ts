import { join } from 'node:path';
import { httpGet, tlsMaterial } from '../healthProbe.ts';
import type { ClusterLayout } from '../layout.ts';
import type { PkiFiles } from '../pki.ts';
import { runCommand } from '../runCommand.ts';
import { errorText } from '../polling.ts';
import { isAlive, readRecord, type ProcessRecord } from '../supervisor.ts';
import {
  realNodeComponents,
  realNodeLayout,
  realNodeName,
  realNodePorts,
  type RealNodeComponent,
  type RealNodeLayout,
} from './nodeLayout.ts';

/** How each of the real node's processes is started and how to tell that it works. */

export interface NodeBinaries {
  readonly kubelet: string;
  readonly kubeProxy: string;
}

export interface NodeCommand {
  readonly command: string;
  readonly args: readonly string[];
}

export function nodeCommand(
  name: RealNodeComponent,
  node: RealNodeLayout,
  binaries: NodeBinaries,
  address: string,
): NodeCommand {
  switch (name) {
    case 'containerd':
      return { command: 'containerd', args: ['--config', node.containerdConfig] };
    case 'kubelet':
      return {
        command: binaries.kubelet,
        args: [
          `--config=${node.kubeletConfig}`,
          `--kubeconfig=${node.kubeletKubeconfig}`,
          `--root-dir=${node.kubeletRoot}`,
          `--hostname-override=${realNodeName}`,
          // The address the API server reaches it at (logs, exec) and the Node's InternalIP.
          `--node-ip=${address}`,
          '--v=1',
        ],
      };
    case 'kube-proxy':
      return {
        command: binaries.kubeProxy,
        args: [`--config=${node.kubeProxyConfig}`, '--v=1'],
      };
  }
}

export function nodePidFile(cluster: ClusterLayout, name: RealNodeComponent): string {
  return join(cluster.runDir, `${name}.pid`);
}

export function nodeLogFile(cluster: ClusterLayout, name: RealNodeComponent): string {
  return join(cluster.logDir, `${name}.log`);
}

/** The runtime answers on its own socket. */
export async function containerdHealthy(node: RealNodeLayout): Promise<true> {
  await runCommand('ctr', ['--address', node.containerdSocket, 'version'], { timeoutMs: 5000 });
  return true;
}

interface NodeLike {
  readonly status?: {
    readonly conditions?: readonly { type?: string; status?: string; lastHeartbeatTime?: string }[];
  };
}

/**
 * The kubelet's health port says ok and its Node is Ready; with `sinceMs`, Ready was reported by
 * this kubelet, not an earlier one.
 */
export async function kubeletHealthy(
  pki: PkiFiles,
  apiserverPort: number,
  sinceMs?: number,
): Promise<true> {
  const health = await httpGet(`http://127.0.0.1:${realNodePorts.kubeletHealthz}/healthz`);
  if (health.status !== 200) throw new Error(`kubelet /healthz answered ${health.status}`);
  const answer = await httpGet(
    `https://127.0.0.1:${apiserverPort}/api/v1/nodes/${realNodeName}`,
    tlsMaterial(pki.ca.cert, pki.leaf('admin')),
  );
  if (answer.status === 404) throw new Error(`Node ${realNodeName} is not registered yet`);
  if (answer.status !== 200) throw new Error(`GET Node answered ${answer.status}`);
  const ready = (JSON.parse(answer.body) as NodeLike).status?.conditions?.find(
    (c) => c.type === 'Ready' && c.status === 'True',
  );
  if (ready === undefined) throw new Error(`Node ${realNodeName} is not Ready`);
  const heartbeat = Date.parse(ready.lastHeartbeatTime ?? '');
  if (sinceMs !== undefined && !(heartbeat >= Math.floor(sinceMs / 1000) * 1000)) {
    throw new Error(`Node ${realNodeName} has not reported since the kubelet started`);
  }
  return true;
}

/** kube-proxy answers 200 once it has programmed the Services at least once. */
export async function kubeProxyHealthy(): Promise<true> {
  const answer = await httpGet(`http://127.0.0.1:${realNodePorts.kubeProxyHealthz}/healthz`);
  if (answer.status !== 200) {
    throw new Error(`kube-proxy /healthz answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  return true;
}

/**
 * The host's address on its default route: the Node's InternalIP and where pods reach the API
 * server (the `kubernetes` Service's endpoint).
 */
export async function hostAddress(): Promise<string> {
  const { stdout } = await runCommand('ip', ['-4', 'route', 'get', '1.1.1.1']);
  const match = /\bsrc (\d+\.\d+\.\d+\.\d+)/.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`no source address in: ${stdout.trim()}`);
  return match[1];
}

export const nodeTiming: Readonly<
  Record<RealNodeComponent, { readyMs: number; stopGraceMs: number }>
> = {
  containerd: { readyMs: 30_000, stopGraceMs: 10_000 },
  kubelet: { readyMs: 120_000, stopGraceMs: 15_000 },
  'kube-proxy': { readyMs: 60_000, stopGraceMs: 10_000 },
};

export async function readNodeRecords(
  cluster: ClusterLayout,
): Promise<Map<RealNodeComponent, ProcessRecord>> {
  const records = new Map<RealNodeComponent, ProcessRecord>();
  for (const name of realNodeComponents) {
    const record = await readRecord(nodePidFile(cluster, name));
    if (record !== undefined) records.set(name, record);
  }
  return records;
}

export interface RealNodeStatus {
  readonly name: RealNodeComponent;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly port: number | undefined;
  /** undefined when healthy, else why not. */
  readonly problem: string | undefined;
}

/** One line each for `cluster-status`: running, and healthy as `up` would judge it. */
export async function realNodeStatus(
  cluster: ClusterLayout,
  pki: PkiFiles,
  apiserverPort: number,
): Promise<RealNodeStatus[]> {
  const node = realNodeLayout(cluster);
  const records = await readNodeRecords(cluster);
  const check: Readonly<Record<RealNodeComponent, () => Promise<true>>> = {
    containerd: () => containerdHealthy(node),
    kubelet: () => kubeletHealthy(pki, apiserverPort),
    'kube-proxy': kubeProxyHealthy,
  };
  const portOf: Readonly<Record<RealNodeComponent, number | undefined>> = {
    containerd: undefined,
    kubelet: realNodePorts.kubelet,
    'kube-proxy': realNodePorts.kubeProxyHealthz,
  };
  return Promise.all(
    realNodeComponents.map(async (name) => {
      const record = records.get(name);
      const running = record !== undefined && isAlive(record);
      let problem: string | undefined = running ? undefined : 'not running';
      if (running) problem = await check[name]().then(() => undefined, errorText);
      return { name, pid: running ? record.pid : undefined, running, port: portOf[name], problem };
    }),
  );
}

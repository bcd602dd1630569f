import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterLayout } from '../layout.ts';
import { pollUntil } from '../polling.ts';
import { seconds, type Progress } from '../progress.ts';
import { runCommand } from '../runCommand.ts';
import { isAlive, removeRecord, stopProcess, type ProcessRecord } from '../supervisor.ts';
import { diffHostState, snapshotHost, type HostSnapshot } from './hostState.ts';
import { restoreHost } from './hostRestore.ts';
import {
  realNodeLayout,
  realNodeName,
  relativeToRepo as rel,
  type RealNodeComponent,
  type RealNodeLayout,
} from './nodeLayout.ts';
import { nodePidFile, nodeTiming, readNodeRecords } from './nodeProcesses.ts';

export interface StopRealNodeOptions {
  readonly cluster: ClusterLayout;
  /** The kubectl to drain with while the API server still runs; undefined skips the drain. */
  readonly kubectl: string | undefined;
  readonly progress: Progress;
}

/**
 * Stops the pods (through the kubelet, so CNI tears their networks down), kube-proxy, the kubelet
 * and containerd; removes the node's state; undoes what it changed on the host. Returns the
 * differences to the host as it was that remain, one line each (empty when none).
 */
export async function stopRealNode(options: StopRealNodeOptions): Promise<string[]> {
  const { cluster, kubectl, progress } = options;
  const node = realNodeLayout(cluster);
  const records = await readNodeRecords(cluster);
  if (records.size === 0 && !existsSync(node.hostSnapshot)) return [];
  const kubeletRecord = records.get('kubelet');
  if (kubectl !== undefined && kubeletRecord !== undefined && isAlive(kubeletRecord)) {
    await drainPods(kubectl, cluster, progress);
  }
  for (const name of ['kube-proxy', 'kubelet'] as const) {
    await stopOne(cluster, records, name, progress);
  }
  const containerd = records.get('containerd');
  if (containerd !== undefined && isAlive(containerd)) await stopContainers(node, progress);
  await stopOne(cluster, records, 'containerd', progress);

  let remaining: string[] = [];
  if (existsSync(node.hostSnapshot)) {
    const before = JSON.parse(await readFile(node.hostSnapshot, 'utf8')) as HostSnapshot;
    const problems = await restoreHost(before, [node.dir], progress);
    for (const problem of problems) progress(`could not undo: ${problem}`);
    await removeNodeState(node);
    remaining = diffHostState(before, await snapshotHost());
    if (remaining.length === 0) {
      await rm(node.hostSnapshot, { force: true });
      progress(
        'host state restored: sysctls, iptables, mounts, links, cgroups and paths as before',
      );
    } else {
      progress(
        `the host still differs from before the node started (${rel(cluster, node.hostSnapshot)} kept):`,
      );
      for (const line of remaining) progress(`  ${line}`);
    }
  } else {
    await removeNodeState(node);
  }
  return remaining;
}

/** Everything but the certificates: the next start begins with empty runtime and kubelet state. */
async function removeNodeState(node: RealNodeLayout): Promise<void> {
  for (const dir of [
    join(node.containerdRoot, '..'),
    node.kubeletRoot,
    join(node.cniDataDir, '..'),
  ]) {
    await rm(dir, { recursive: true, force: true });
  }
}

async function stopOne(
  cluster: ClusterLayout,
  records: ReadonlyMap<RealNodeComponent, ProcessRecord>,
  name: RealNodeComponent,
  progress: Progress,
): Promise<void> {
  const record = records.get(name);
  if (record === undefined) return;
  const outcome = await stopProcess(record, { graceMs: nodeTiming[name].stopGraceMs });
  if (outcome !== 'not-running') {
    progress(`stopped ${name} (pid ${record.pid}${outcome === 'killed' ? ', after SIGKILL' : ''})`);
  }
  await removeRecord(nodePidFile(cluster, name));
}

/**
 * Cordons the node and deletes its pods, so that the kubelet stops each one as it would on a
 * real node (containers, then the sandbox and its network); waits until none is left.
 */
async function drainPods(
  kubectl: string,
  cluster: ClusterLayout,
  progress: Progress,
): Promise<void> {
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
  const onNode = `spec.nodeName=${realNodeName}`;
  const run = (args: readonly string[]) =>
    runCommand(kubectl, args, { env, allowFailure: true, timeoutMs: 30_000 });
  await run(['cordon', realNodeName]);
  await run([
    'delete',
    'pods',
    '--all-namespaces',
    '--field-selector',
    onNode,
    '--grace-period=5',
    '--wait=false',
  ]);
  const outcome = await pollUntil(
    async () => {
      const { stdout, code } = await run([
        'get',
        'pods',
        '--all-namespaces',
        '--field-selector',
        onNode,
        '-o',
        'name',
      ]);
      return code === 0 && stdout.trim() === '';
    },
    { timeoutMs: 45_000, intervalMs: 500 },
  );
  progress(
    outcome.kind === 'done'
      ? `stopped the node's pods in ${seconds(outcome.elapsedMs)}`
      : 'some pods did not stop in 45s: their containers are stopped directly',
  );
}

/** Whatever task the kubelet left: killed and deleted, so that no container outlives containerd. */
async function stopContainers(node: RealNodeLayout, progress: Progress): Promise<void> {
  const ctr = (args: readonly string[]) =>
    runCommand('ctr', ['--address', node.containerdSocket, '--namespace', 'k8s.io', ...args], {
      allowFailure: true,
      timeoutMs: 30_000,
    });
  const tasks = (await ctr(['tasks', 'list', '--quiet'])).stdout
    .split('\n')
    .filter((id) => id !== '');
  for (const id of tasks) {
    await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
    await ctr(['tasks', 'delete', '--force', id]);
  }
  const containers = (await ctr(['containers', 'list', '--quiet'])).stdout
    .split('\n')
    .filter((id) => id !== '');
  for (const id of containers) await ctr(['containers', 'delete', id]);
  if (tasks.length > 0) progress(`killed ${tasks.length} container task(s) the kubelet left`);
}

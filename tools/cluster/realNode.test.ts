/**
 * The real node end to end, on a cluster of its own (its own state directory and ports), brought
 * up after the one the other suites share has stopped (jest project node-cycle: one real node per
 * host): the Node registers Ready; a pod
 * from a locally built image gets an address on the pod network that the host reaches; kube-proxy
 * routes a Service's ClusterIP; CoreDNS resolves the Service's name inside a pod; `kubectl logs`
 * reads the container's log. Then `down` must leave the host exactly as it found it. Before
 * `up`, the test leaves what a node killed without its teardown would (its pod bridge with a
 * dead pod plugged in), which `up` must clear.
 *
 * Needs root on Linux (containerd, iptables, mounts); skipped otherwise. The first run builds the
 * kubelet and CoreDNS (several minutes each on two cores); later runs take about a minute.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ClusterRecord } from './clusterRecord.ts';
import { httpGet } from './healthProbe.ts';
import { pollUntil } from './polling.ts';
import { diffHostState, snapshotHost, type HostSnapshot } from './realNode/hostState.ts';
import { podCidr, realNodeName, realNodeSupported } from './realNode/nodeLayout.ts';
import { runCommand } from './runCommand.ts';

const runsHere = realNodeSupported();
const cli = new URL('cli.ts', import.meta.url).pathname;
// Made by `up` itself, so that a skipped run leaves nothing behind.
const stateDir = join(tmpdir(), `breakwater-real-node-${process.pid}`);
// Clear of the shared cluster's defaults (52379, 56443, ...).
const env: NodeJS.ProcessEnv = {
  ...process.env,
  BREAKWATER_NODE: 'kubelet',
  BREAKWATER_DIR: stateDir,
  BREAKWATER_ETCD_PORT: '47379',
  BREAKWATER_ETCD_PEER_PORT: '47380',
  BREAKWATER_APISERVER_PORT: '47443',
  BREAKWATER_CONTROLLER_MANAGER_PORT: '47457',
  BREAKWATER_SCHEDULER_PORT: '47459',
};
const image = 'localhost/breakwater/busybox:1';
const kubeconfig = join(stateDir, 'kubeconfig');

/** Keys that move on their own (counters, random values) or belong to short-lived links. */
const volatileSysctl =
  /^(fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.|aio-nr)|kernel\.(ns_last_pid|random\.|pty\.nr)|net\.netfilter\.nf_conntrack_count|net\.ipv[46]\.(conf|neigh)\.(veth|bwcni0|cni-podman))/;

async function allSysctls(): Promise<Map<string, string>> {
  const { stdout } = await runCommand('sysctl', ['-a'], { allowFailure: true });
  return new Map(
    stdout
      .split('\n')
      .map((line) => line.split(' = '))
      .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== undefined)
      .filter(([key]) => !volatileSysctl.test(key)),
  );
}

function cluster(command: 'up' | 'down'): Promise<{ stdout: string; stderr: string }> {
  return runCommand(process.execPath, ['--no-warnings=ExperimentalWarning', cli, command], {
    env,
    timeoutMs: 25 * 60_000,
    streamStderr: true,
  });
}

function kubectlPath(): string {
  const record = JSON.parse(
    readFileSync(join(stateDir, 'cluster', 'cluster.json'), 'utf8'),
  ) as ClusterRecord;
  return record.binaries.kubectl.path;
}

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const { stdout } = await runCommand(kubectlPath(), args, {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    ...(input === undefined ? {} : { input }),
  });
  return stdout;
}

/** Retries while kube-proxy or CoreDNS catch up with a new Service; resolves with the answer. */
async function eventually(probe: () => Promise<string>, what: string): Promise<string> {
  const outcome = await pollUntil(probe, { timeoutMs: 30_000, intervalMs: 500 });
  if (outcome.kind === 'done') return outcome.value;
  throw new Error(
    `${what}: ${outcome.kind === 'timeout' ? String(outcome.lastError) : outcome.reason}`,
  );
}

async function httpFromHost(url: string): Promise<string> {
  const answer = await httpGet(url);
  if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}`);
  return answer.body;
}

(runsHere ? describe : describe.skip)(
  'the real node (kubelet, containerd, kube-proxy, CoreDNS)',
  () => {
    jest.setTimeout(30 * 60_000);
    let before: HostSnapshot;
    let sysctlsBefore: Map<string, string>;
    let stopped = false;
    let upSaid = '';
    let deadPodLinks = '';
    /** `ip netns add` makes the directory (a mount); `down` keeps it, as `up` found it there. */
    let hadNetnsDir = false;

    beforeAll(async () => {
      before = await snapshotHost();
      sysctlsBefore = await allSysctls();
      hadNetnsDir = existsSync(NETNS_DIR);
      await leaveDeadNodeBridge();
      try {
        const up = await cluster('up');
        upSaid = `${up.stdout}${up.stderr}`;
        deadPodLinks = (await runCommand('ip', ['-n', DEAD_POD, '-o', 'link'])).stdout;
      } finally {
        await runCommand('ip', ['netns', 'delete', DEAD_POD], { allowFailure: true });
      }
      await kubectl(['apply', '-f', '-'], JSON.stringify(workload()));
      await kubectl(['wait', '--for=condition=Ready', 'pod/web', '--timeout=90s']);
    });

    afterAll(async () => {
      if (!stopped) await cluster('down').catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    });

    it('clears the pod bridge a killed node left, and the dead pod its address went with', () => {
      expect(upSaid).toMatch(/removed the pod bridge bwcni0 and 1 pod link/);
      expect(deadPodLinks).not.toContain('eth0');
    });

    it('registers its Node Ready, running the pinned kubelet on containerd', async () => {
      const node = JSON.parse(await kubectl(['get', 'node', realNodeName, '-o', 'json'])) as {
        status: {
          conditions: { type: string; status: string }[];
          nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        };
      };
      expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(node.status.nodeInfo.kubeletVersion).toMatch(/^v1\.36\./);
      expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    });

    it('gives a pod from a locally built image an address on the pod network that the host reaches', async () => {
      const podIp = (await kubectl(['get', 'pod', 'web', '-o', 'jsonpath={.status.podIP}'])).trim();
      expect(podIp.startsWith(podCidr.replace(/\.0\/24$/, '.'))).toBe(true);
      expect(await httpFromHost(`http://${podIp}:8080/`)).toBe('hello from the real node\n');
    });

    it('routes the Service ClusterIP to the pod from the host (kube-proxy)', async () => {
      const clusterIp = (
        await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])
      ).trim();
      expect(clusterIp).toMatch(/^10\.0\.0\.\d+$/);
      expect(await eventually(() => httpFromHost(`http://${clusterIp}/`), 'ClusterIP')).toBe(
        'hello from the real node\n',
      );
    });

    it('resolves the Service name through CoreDNS inside a pod, and reaches the pod by it', async () => {
      const clusterIp = (
        await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])
      ).trim();
      const lookup = await eventually(
        () => kubectl(['exec', 'web', '--', 'nslookup', 'web.default.svc.cluster.local']),
        'nslookup',
      );
      expect(lookup).toContain(`Address: ${clusterIp}`);
      const body = await eventually(
        () =>
          kubectl([
            'exec',
            'web',
            '--',
            // No -T: Debian's static busybox wget crashes with it.
            'wget',
            '-q',
            '-O',
            '-',
            'http://web.default.svc.cluster.local/',
          ]),
        'wget by Service name',
      );
      expect(body).toBe('hello from the real node\n');
    });

    it('serves the container log through kubectl logs', async () => {
      expect(await kubectl(['logs', 'web'])).toContain('serving on 8080');
    });

    it('leaves the host as it found it after down: sysctls, iptables, mounts, paths, cgroups, links', async () => {
      await cluster('down');
      stopped = true;
      if (!hadNetnsDir) {
        // A mount of itself, as `ip netns` makes it.
        await runCommand('umount', [NETNS_DIR], { allowFailure: true });
        await rmdir(NETNS_DIR);
      }
      expect(diffHostState(before, await snapshotHost())).toEqual([]);
      const sysctlsAfter = await allSysctls();
      const changed = [...new Set([...sysctlsBefore.keys(), ...sysctlsAfter.keys()])]
        .filter((key) => sysctlsBefore.get(key) !== sysctlsAfter.get(key))
        .map(
          (key) =>
            `${key}: ${sysctlsBefore.get(key) ?? 'absent'} -> ${sysctlsAfter.get(key) ?? 'absent'}`,
        );
      expect(changed).toEqual([]);
    });
  },
);

const DEAD_POD = 'breakwater-test-dead-pod';
const NETNS_DIR = '/run/netns';

/**
 * What a real node killed without its teardown leaves: its pod bridge, and a pod's netns still
 * plugged in with the first address a new node hands out.
 */
async function leaveDeadNodeBridge(): Promise<void> {
  const ip = (...args: string[]) => runCommand('ip', args);
  const first = podCidr.replace(/\.0\/24$/, '.2');
  await ip('link', 'add', 'bwcni0', 'type', 'bridge');
  await ip('link', 'set', 'bwcni0', 'up');
  await ip('netns', 'add', DEAD_POD);
  await ip('link', 'add', 'vethdeadpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', DEAD_POD);
  await ip('-n', DEAD_POD, 'addr', 'add', `${first}/24`, 'dev', 'eth0');
  await ip('-n', DEAD_POD, 'link', 'set', 'eth0', 'up');
  await ip('link', 'set', 'vethdeadpod', 'master', 'bwcni0', 'up');
}

/** A busybox web server and its Service, in the default namespace of the test's own cluster. */
function workload(): object {
  const labels = { app: 'web' };
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: 'default', labels },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'Never',
              command: [
                '/bin/sh',
                '-c',
                'mkdir -p /www && echo "hello from the real node" > /www/index.html && ' +
                  'echo "serving on 8080" && exec httpd -f -p 8080 -h /www',
              ],
              ports: [{ containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'default' },
        spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
      },
    ],
  };
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../runCommand.ts';
import { fixedHostPaths, podBridge } from './nodeLayout.ts';

/**
 * What the real node changes on the host, read before it first starts and compared after it
 * stops: sysctls the kubelet, the bridge plugin and kube-proxy write; iptables rules; mounts;
 * fixed directories; cgroups; network links; kernel modules. Reading is here; undoing the
 * differences is in hostRestore.ts.
 */
export interface HostSnapshot {
  readonly takenAt: string;
  /** Value by key (`vm.overcommit_memory`); null when the key does not exist. */
  readonly sysctls: Readonly<Record<string, string | null>>;
  /** `iptables-save` / `ip6tables-save` output without counters and comment lines. */
  readonly iptables: { readonly v4: string; readonly v6: string };
  /** Mount points, from /proc/self/mountinfo. */
  readonly mounts: readonly string[];
  /** Whether each fixed host path existed. */
  readonly paths: Readonly<Record<string, boolean>>;
  /** Top-level cgroups per v1 hierarchy or the unified one: `memory/kubepods`. */
  readonly cgroups: readonly string[];
  readonly links: readonly string[];
  readonly modules: readonly string[];
}

/** The sysctls the kubelet (setupKernelTunables), the CNI bridge and kube-proxy may write. */
export const watchedSysctls = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.forwarding',
  'net.ipv4.conf.default.forwarding',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
  'net.netfilter.nf_conntrack_tcp_be_liberal',
] as const;

export function sysctlPath(key: string): string {
  return join('/proc/sys', ...key.split('.'));
}

function readSysctl(key: string): string | null {
  try {
    return readFileSync(sysctlPath(key), 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Counters change with every packet; the rules are what matter. A table with nothing but built-in
 * chains that accept everything filters nothing: iptables-nft keeps such a table registered once
 * something used it, and iptables has no command to drop it, so it counts as absent.
 */
export function normalizeIptablesSave(text: string): string {
  const lines = text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]$/, '[0:0]'));
  const kept: string[] = [];
  let table: string[] = [];
  for (const line of lines) {
    table.push(line);
    if (line !== 'COMMIT') continue;
    const inert = table.every(
      (entry) => entry.startsWith('*') || entry === 'COMMIT' || / ACCEPT \[0:0\]$/.test(entry),
    );
    if (!inert) kept.push(...table);
    table = [];
  }
  return [...kept, ...table].join('\n');
}

async function iptablesSave(binary: string): Promise<string> {
  const { stdout, code, stderr } = await runCommand(binary, [], { allowFailure: true });
  if (code !== 0) throw new Error(`${binary} failed: ${stderr.trim()}`);
  return normalizeIptablesSave(stdout);
}

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''));
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}

const cgroupRoot = '/sys/fs/cgroup';

function directories(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** `memory/kubepods`, or `kubepods` on a pure cgroup v2 host. */
export function topLevelCgroups(): string[] {
  const isV2 = existsSync(join(cgroupRoot, 'cgroup.controllers'));
  if (isV2) return directories(cgroupRoot).sort();
  return directories(cgroupRoot)
    .flatMap((hierarchy) =>
      directories(join(cgroupRoot, hierarchy)).map((child) => `${hierarchy}/${child}`),
    )
    .sort();
}

function links(): string[] {
  return readdirSync('/sys/class/net').sort();
}

function modules(): string[] {
  try {
    return readFileSync('/proc/modules', 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' ')[0] ?? '')
      .sort();
  } catch {
    return [];
  }
}

function pathExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const [v4, v6] = await Promise.all([
    iptablesSave('iptables-save'),
    iptablesSave('ip6tables-save'),
  ]);
  return {
    takenAt: new Date().toISOString(),
    sysctls: Object.fromEntries(watchedSysctls.map((key) => [key, readSysctl(key)])),
    iptables: { v4, v6 },
    mounts: mountPoints(),
    paths: Object.fromEntries(fixedHostPaths.map((path) => [path, pathExists(path)])),
    cgroups: topLevelCgroups(),
    links: links(),
    modules: modules(),
  };
}

/** Lines of `after` missing from `before` (+) and of `before` missing from `after` (-). */
function listDiff(what: string, before: readonly string[], after: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const item of before) counts.set(item, (counts.get(item) ?? 0) + 1);
  const added: string[] = [];
  for (const item of after) {
    const left = counts.get(item) ?? 0;
    if (left > 0) counts.set(item, left - 1);
    else added.push(item);
  }
  const removed = [...counts.entries()].flatMap(([item, n]) => Array<string>(n).fill(item));
  return [
    ...added.map((item) => `${what} + ${item}`),
    ...removed.map((item) => `${what} - ${item}`),
  ];
}

/**
 * Every difference between two snapshots, one line each (`sysctl kernel.panic: 0 -> 10`,
 * `iptables + -A KUBE-...`); empty when the host is as it was. `takenAt` is ignored.
 */
export function diffHostState(before: HostSnapshot, after: HostSnapshot): string[] {
  const sysctls = Object.keys({ ...before.sysctls, ...after.sysctls })
    .filter((key) => before.sysctls[key] !== after.sysctls[key])
    .map(
      (key) =>
        `sysctl ${key}: ${before.sysctls[key] ?? 'absent'} -> ${after.sysctls[key] ?? 'absent'}`,
    );
  const paths = Object.keys({ ...before.paths, ...after.paths })
    .filter((path) => before.paths[path] !== after.paths[path])
    .map((path) => `path ${path}: ${after.paths[path] === true ? 'created' : 'removed'}`);
  return [
    ...sysctls,
    ...listDiff('iptables', before.iptables.v4.split('\n'), after.iptables.v4.split('\n')),
    ...listDiff('ip6tables', before.iptables.v6.split('\n'), after.iptables.v6.split('\n')),
    ...listDiff('mount', before.mounts, after.mounts).filter((line) => !isForeign(line)),
    ...paths,
    ...listDiff('cgroup', before.cgroups, after.cgroups).filter((line) => !isForeign(line)),
    ...listDiff('link', before.links, after.links),
    ...listDiff('module', before.modules, after.modules),
  ];
}

/**
 * Podman's and buildah's own mounts and cgroups: on a shared machine, image builds and container
 * tests come and go while the node runs, and the node never makes these.
 */
function isForeign(line: string): boolean {
  return (
    /^mount [+-] \/(var\/lib|run)\/containers\/storage\//.test(line) ||
    /^cgroup [+-] [^/]+\/(buildah-|libpod)/.test(line)
  );
}

/** True for what the real node itself adds, so that nobody else's changes are undone. */
export function isRealNodeRule(line: string): boolean {
  return /\bKUBE-|\bCNI-/.test(line) || line.includes(podBridge);
}

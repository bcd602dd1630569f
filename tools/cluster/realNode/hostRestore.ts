import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '../progress.ts';
import { runCommand } from '../runCommand.ts';
import { errorText } from '../polling.ts';
import {
  isRealNodeRule,
  normalizeIptablesSave,
  snapshotHost,
  sysctlPath,
  topLevelCgroups,
  type HostSnapshot,
} from './hostState.ts';
import { fixedHostPaths, podBridge } from './nodeLayout.ts';

/**
 * Undoes what the real node changed on the host since `before` was taken, and only that: rules
 * and chains that are the kubelet's, kube-proxy's or CNI's, mounts under the node's own
 * directories, its bridge, its cgroups, the fixed paths that did not exist. Returns what could
 * not be undone, one line each.
 */
export async function restoreHost(
  before: HostSnapshot,
  ownDirs: readonly string[],
  progress: Progress,
): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (error: unknown) {
      problems.push(`${what}: ${errorText(error)}`);
    }
  };
  const now = await snapshotHost();
  const watched = [...ownDirs, ...fixedHostPaths.filter((path) => !before.paths[path])];
  await attempt('unmount', () => unmountNew(before, now, watched, progress));
  await attempt('links', () => removeLinks(before));
  await attempt('netns', () => removeNetns(before));
  for (const [binary, key] of [
    ['iptables-restore', 'v4'],
    ['ip6tables-restore', 'v6'],
  ] as const) {
    await attempt(binary, () => undoIptables(binary, before.iptables[key], now.iptables[key]));
  }
  await attempt('sysctls', () => restoreSysctls(before, progress));
  await attempt('cgroups', () => removeCgroups(before));
  for (const path of fixedHostPaths) {
    if (before.paths[path] === true || !existsSync(path)) continue;
    await attempt(`remove ${path}`, () => rm(path, { recursive: true, force: true }));
  }
  return problems;
}

function isUnder(path: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/** New mounts under `dirs`, the most recent first, so that a mount on top goes before its base. */
async function unmountNew(
  before: HostSnapshot,
  now: HostSnapshot,
  dirs: readonly string[],
  progress: Progress,
): Promise<void> {
  const old = new Set(before.mounts);
  // Resolve symlinks (/var/run is /run) so that both spellings count.
  const resolved = dirs.flatMap((dir) => {
    try {
      return [dir, realpathSync(dir)];
    } catch {
      return [dir];
    }
  });
  // containerd names its sandboxes' namespaces cni-<uuid>; podman's are netns-<uuid>.
  const ours = (mount: string) => isUnder(mount, resolved) || mount.startsWith('/run/netns/cni-');
  const fresh = now.mounts.filter((mount) => !old.has(mount) && ours(mount)).reverse();
  if (fresh.length > 0) progress(`unmounting ${fresh.length} mount(s) the node left`);
  for (const mount of fresh) {
    const plain = await runCommand('umount', [mount], { allowFailure: true });
    if (plain.code !== 0) await runCommand('umount', ['-l', mount]);
  }
}

async function removeLinks(before: HostSnapshot): Promise<void> {
  const existed = new Set(before.links);
  const members = readdirSync('/sys/class/net').filter((name) => {
    try {
      return realpathSync(`/sys/class/net/${name}/master`).endsWith(`/${podBridge}`);
    } catch {
      return false;
    }
  });
  for (const name of [...members, podBridge]) {
    if (existed.has(name) || !existsSync(`/sys/class/net/${name}`)) continue;
    await runCommand('ip', ['link', 'delete', name]);
  }
}

/** The network namespaces containerd made for sandboxes (`cni-<uuid>`). */
async function removeNetns(before: HostSnapshot): Promise<void> {
  if (!existsSync('/run/netns')) return;
  const old = new Set(before.mounts);
  for (const name of readdirSync('/run/netns')) {
    const path = join('/run/netns', name);
    if (!name.startsWith('cni-') || old.has(path)) continue;
    await runCommand('umount', [path], { allowFailure: true });
    await rm(path, { force: true });
  }
}

interface ParsedTable {
  readonly chains: Set<string>;
  readonly rules: string[];
}

function parseSave(text: string): Map<string, ParsedTable> {
  const tables = new Map<string, ParsedTable>();
  let current: ParsedTable | undefined;
  for (const line of normalizeIptablesSave(text).split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: [] };
      tables.set(line.slice(1), current);
    } else if (line.startsWith(':')) {
      current?.chains.add(line.slice(1).split(' ')[0] ?? '');
    } else if (line.startsWith('-A ')) {
      current?.rules.push(line);
    }
  }
  return tables;
}

/**
 * The `iptables-restore --noflush` input that removes, per table, the real node's rules added
 * since `before` and then its chains that did not exist: `-D` for rules in older chains, `-F`
 * and `-X` for new chains. Empty when there is nothing to remove.
 */
export function iptablesUndoScript(before: string, now: string): string {
  const old = parseSave(before);
  const sections: string[] = [];
  for (const [table, current] of parseSave(now)) {
    const previous = old.get(table) ?? { chains: new Set<string>(), rules: [] };
    const newChains = [...current.chains].filter(
      (chain) => !previous.chains.has(chain) && isRealNodeRule(chain),
    );
    const remaining = new Map<string, number>();
    for (const rule of previous.rules) remaining.set(rule, (remaining.get(rule) ?? 0) + 1);
    const deletions: string[] = [];
    for (const rule of current.rules) {
      const left = remaining.get(rule) ?? 0;
      if (left > 0) {
        remaining.set(rule, left - 1);
        continue;
      }
      const chain = rule.split(' ')[1] ?? '';
      // Rules inside a new chain go with its flush.
      if (newChains.includes(chain) || !isRealNodeRule(rule)) continue;
      deletions.push(`-D ${rule.slice(3)}`);
    }
    if (deletions.length === 0 && newChains.length === 0) continue;
    sections.push(
      `*${table}`,
      ...deletions,
      ...newChains.map((chain) => `-F ${chain}`),
      ...newChains.map((chain) => `-X ${chain}`),
      'COMMIT',
    );
  }
  return sections.length === 0 ? '' : `${sections.join('\n')}\n`;
}

async function undoIptables(binary: string, before: string, now: string): Promise<void> {
  const script = iptablesUndoScript(before, now);
  if (script === '') return;
  await runCommand(binary, ['--noflush'], { input: script });
}

async function restoreSysctls(before: HostSnapshot, progress: Progress): Promise<void> {
  for (const [key, value] of Object.entries(before.sysctls)) {
    if (value === null) continue;
    const path = sysctlPath(key);
    let current: string;
    try {
      current = readFileSync(path, 'utf8').trim();
    } catch {
      continue;
    }
    if (current === value) continue;
    await writeFile(path, `${value}\n`);
    progress(`restored sysctl ${key} = ${value} (was ${current})`);
  }
}

const cgroupRoot = '/sys/fs/cgroup';

/** The kubelet's `kubepods` trees that did not exist: children first, as rmdir wants. */
async function removeCgroups(before: HostSnapshot): Promise<void> {
  const old = new Set(before.cgroups);
  const now = topLevelCgroups();
  for (const cgroup of now) {
    const name = cgroup.split('/').pop() ?? '';
    if (old.has(cgroup) || !name.startsWith('kubepods')) continue;
    await removeCgroupTree(join(cgroupRoot, cgroup));
  }
}

async function removeCgroupTree(path: string): Promise<void> {
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  }
  await rmdir(path);
}

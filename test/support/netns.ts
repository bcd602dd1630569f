/**
 * A network namespace of a test's own, joined to this machine by a veth pair, for faults on one
 * process's network (root on Linux, iproute2's `ip` and `iptables`):
 *
 *   const ns = await createNetns();          // ns.hostAddress <-> ns.address, a /30 of its own
 *   ... spawn(...ns.exec(['node', 'main.ts'])) ...   // a process inside it
 *   await ns.cut(6379, 'blackhole');         // its TCP to that host port hangs, both ways
 *   await ns.restore();
 *   await ns.remove();                       // the namespace and the veth, always
 *
 * A cut drops (or resets) only the traffic to and from one port on the host side, so the test
 * still reaches the process and the process still reaches everything else: a partition between
 * it and one server. `blackhole` drops packets both ways, as a partition does (TCP hangs and
 * retransmits); `reset` answers each with a TCP reset (a fast error).
 *
 * Each namespace takes a free slot by creating its name (`ip netns add` fails on a taken one),
 * so parallel jest workers, and a slot a killed run left behind, never collide; the slot numbers
 * its interfaces and its /30 in 10.213.0.0/16.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SLOTS = 16_384;
const RULE_COMMENT = 'breakwater-test-cut';

export type Cut = 'blackhole' | 'reset';

export interface Netns {
  readonly name: string;
  /** This machine's end of the veth: a server the namespace reaches listens here. */
  readonly hostAddress: string;
  /** The namespace's end: a process inside listens here for the test to reach it. */
  readonly address: string;
  /** `argv` to run `command` inside the namespace (`ip netns exec` keeps the same PID). */
  exec(command: readonly string[]): string[];
  /** Cuts the namespace's TCP to and from `hostPort` on the host end. */
  cut(hostPort: number, how: Cut): Promise<void>;
  /** Takes every cut away. */
  restore(): Promise<void>;
  /** A process inside, by PID, for `remove` to SIGKILL if it still runs. */
  own(pid: number | undefined): void;
  /** SIGKILLs the processes it owns, then deletes the namespace and its veth; never throws. */
  remove(): Promise<void>;
}

/** Why this machine cannot make a namespace for a test, or undefined when it can. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the test as root)';
  for (const tool of [
    ['ip', 'netns', 'list'],
    ['iptables', '--version'],
  ] as const) {
    try {
      await run(tool[0], tool.slice(1));
    } catch (error) {
      return `\`${tool.join(' ')}\` failed (install iproute2 and iptables): ${String(error)}`;
    }
  }
  return undefined;
}

export async function createNetns(): Promise<Netns> {
  const first = Math.floor(Math.random() * SLOTS);
  for (let i = 0; i < 64; i++) {
    const slot = (first + i) % SLOTS;
    const name = `bw-test-${String(slot)}`;
    try {
      await run('ip', ['netns', 'add', name]);
    } catch {
      continue; // taken by another worker, or left behind by a killed run
    }
    const made = await joined(name, slot).catch(async (error: unknown) => {
      await teardown(name, slot);
      return error instanceof Error ? error : new Error(String(error));
    });
    if (made instanceof Error) {
      // An interface of this slot left behind: the next slot.
      if (/exists/i.test(made.message)) continue;
      throw made;
    }
    return made;
  }
  throw new Error('no free network-namespace slot in 64 tries (ip netns list: bw-test-*)');
}

/** The veth pair and addresses of `slot`, in namespace `name`. */
async function joined(name: string, slot: number): Promise<Netns> {
  const [hostIf, nsIf] = interfaces(slot);
  // The /30 of slot s: 10.213.(s >> 6).((s & 63) * 4), hosts .1 (this machine) and .2.
  const base = `10.213.${String(slot >> 6)}.`;
  const hostAddress = base + String((slot & 63) * 4 + 1);
  const address = base + String((slot & 63) * 4 + 2);
  const inNs = (...args: string[]) => run('ip', ['-n', name, ...args]);
  await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', name]);
  await run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
  await run('ip', ['link', 'set', hostIf, 'up']);
  await inNs('addr', 'add', `${address}/30`, 'dev', nsIf);
  await inNs('link', 'set', nsIf, 'up');
  await inNs('link', 'set', 'lo', 'up');
  const iptables = (...args: string[]) => run('ip', ['netns', 'exec', name, 'iptables', ...args]);
  const rules = async (verb: '-A' | '-D', hostPort: number, how: Cut) => {
    const drop = how === 'blackhole' ? ['DROP'] : ['REJECT', '--reject-with', 'tcp-reset'];
    const tag = ['-m', 'comment', '--comment', RULE_COMMENT, '-j', ...drop];
    await iptables(
      verb,
      'OUTPUT',
      '-p',
      'tcp',
      '-d',
      hostAddress,
      '--dport',
      String(hostPort),
      ...tag,
    );
    await iptables(
      verb,
      'INPUT',
      '-p',
      'tcp',
      '-s',
      hostAddress,
      '--sport',
      String(hostPort),
      ...tag,
    );
  };
  const cuts: { hostPort: number; how: Cut }[] = [];
  const owned = new Set<number>();
  return {
    name,
    hostAddress,
    address,
    exec: (command) => ['ip', 'netns', 'exec', name, ...command],
    cut: async (hostPort, how) => {
      await rules('-A', hostPort, how);
      cuts.push({ hostPort, how });
    },
    restore: async () => {
      for (const c of cuts.splice(0)) await rules('-D', c.hostPort, c.how);
    },
    own: (pid) => {
      if (pid !== undefined) owned.add(pid);
    },
    remove: async () => {
      for (const pid of owned) await killed(pid);
      await teardown(name, slot);
    },
  };
}

/** SIGKILL to `pid`, and waits (up to 5 s) until it is gone: a namespace outlives its processes. */
async function killed(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
}

function interfaces(slot: number): [string, string] {
  return [`bwh${String(slot)}`, `bwn${String(slot)}`];
}

/**
 * Deletes the namespace (its end of the veth goes with it) and this machine's end, in case the
 * namespace's went first. Processes inside are the caller's to kill, by PID, before.
 */
async function teardown(name: string, slot: number): Promise<void> {
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
  await run('ip', ['link', 'del', interfaces(slot)[0]]).catch(() => undefined);
}

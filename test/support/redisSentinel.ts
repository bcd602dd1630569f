/**
 * A replicated Redis watched by Redis Sentinel, on real processes (Debian's `redis-server` and
 * `redis-sentinel`; `make tools` installs them) on loopback ports: a primary, its replicas and
 * an odd number of sentinels that agree on a failover, started and stopped by the test.
 *
 *   const set = await startSentinelSet();
 *   ... store: { redis: { sentinel: { masterName: set.masterName, addresses: set.sentinels } } }
 *   await set.primary.kill();                    // SIGKILL: the sentinels promote a replica
 *   set.primary.freeze(); … set.primary.thaw();  // SIGSTOP past down-after, then SIGCONT
 *   await cutReplicasOff(set.primary.address);   // the replicas fall behind, then a kill
 *   const promoted = await set.waitForNewPrimary(oldAddress);
 *   await set.remove();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createClient } from '@redis/client';
import { onAFreePort, serverHost } from './podReach.ts';
import { startRedis, type RedisHandle } from './redisServer.ts';
import { waitFor } from './waitFor.ts';

const START_TIMEOUT_MS = 10_000;
export const MASTER_NAME = 'breakwater';

export interface SentinelTiming {
  /** How long the primary is silent before a sentinel thinks it down. @default 1000 */
  readonly downAfterMs?: number;
  /** @default 5000 */
  readonly failoverTimeoutMs?: number;
}

export interface SentinelSet {
  readonly masterName: string;
  /** The first primary; after a failover, one of `replicas` is. */
  readonly primary: RedisHandle;
  readonly replicas: readonly RedisHandle[];
  /** host:port of each sentinel, as `store.redis.sentinel.addresses` takes them. */
  readonly sentinels: readonly string[];
  /** host:port of the primary the sentinels name now. */
  currentPrimary(): Promise<string>;
  /** Waits until the sentinels name a primary other than `was`; its host:port. */
  waitForNewPrimary(was: string, timeoutMs: number): Promise<string>;
  /**
   * Every redis-server stopped (SIGTERM: an append-only file is flushed) and started again on
   * its port, the primary first; the sentinels stay up.
   */
  restartServers(): Promise<void>;
  /** Stops every process and removes their directories. */
  remove(): Promise<void>;
}

export async function startSentinelSet(
  options: {
    readonly replicas?: number;
    readonly sentinels?: number;
    /** Every server keeps an append-only file, fsynced on every write. @default false */
    readonly persist?: boolean;
  } & SentinelTiming = {},
): Promise<SentinelSet> {
  const servers: RedisHandle[] = [];
  const sentinels: SentinelProcess[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(sentinels.map((s) => s.stop()));
    await Promise.all(servers.map((r) => r.remove()));
  };
  try {
    const persist = options.persist ?? false;
    const primary = await startRedis({ persist });
    servers.push(primary);
    for (let i = 0; i < (options.replicas ?? 2); i++)
      servers.push(await startRedis({ replicaOf: primary.address, persist }));
    const count = options.sentinels ?? 3;
    for (let i = 0; i < count; i++) sentinels.push(await startSentinel(primary.address, options));
    const addresses = sentinels.map((s) => s.address);
    await waitForSentinelsLinked(addresses, servers.length - 1);
    return {
      masterName: MASTER_NAME,
      primary,
      replicas: servers.slice(1),
      sentinels: addresses,
      currentPrimary: () => currentPrimaryOf(addresses),
      waitForNewPrimary: (was, timeoutMs) => waitForNewPrimaryOf(addresses, was, timeoutMs),
      restartServers: async () => {
        await Promise.all(servers.map((r) => r.stop()));
        for (const r of servers) await r.start();
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** Waits until every sentinel knows every replica, linked, and every other sentinel. */
export async function waitForSentinelsLinked(
  addresses: readonly string[],
  replicas: number,
): Promise<void> {
  // A failover needs every sentinel to know the replicas and a majority of the others.
  await waitFor(
    async () => {
      const views = await Promise.all(addresses.map((a) => sentinelView(a).catch(() => undefined)));
      return views.every(
        (v) =>
          v !== undefined &&
          v.replicas === replicas &&
          v.sentinels === addresses.length - 1 &&
          v.linked,
      );
    },
    {
      description: 'every sentinel to know every replica and every other sentinel',
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
}

/** host:port of the primary the first sentinel that answers names. */
export async function currentPrimaryOf(addresses: readonly string[]): Promise<string> {
  for (const a of addresses) {
    const named = await ask(a, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME]).catch(
      () => undefined,
    );
    if (Array.isArray(named) && named.length === 2)
      return `${String(named[0])}:${String(named[1])}`;
  }
  throw new Error('no sentinel answered');
}

/** Waits until the sentinels name a primary other than `was`, and it says so itself. */
export function waitForNewPrimaryOf(
  addresses: readonly string[],
  was: string,
  timeoutMs: number,
): Promise<string> {
  return waitFor(
    async () => {
      const now = await currentPrimaryOf(addresses).catch(() => was);
      if (now === was) return false;
      const role = await ask(now, ['ROLE']).catch(() => undefined);
      return Array.isArray(role) && role[0] === 'master' && now;
    },
    { description: 'the sentinels to promote a replica', timeoutMs, intervalMs: 50 },
  );
}

/**
 * Waits until one of `replicas` answers ROLE as a primary: the sentinels have promoted it
 * (REPLICAOF NO ONE), before they announce the switch. Its host:port.
 */
export function waitForAReplicaPromoted(
  replicas: readonly RedisHandle[],
  timeoutMs: number,
): Promise<string> {
  return waitFor(
    async () => {
      for (const r of replicas) {
        const role = await ask(r.address, ['ROLE']).catch(() => undefined);
        if (Array.isArray(role) && role[0] === 'master') return r.address;
      }
      return false;
    },
    { description: 'a replica promoted', timeoutMs, intervalMs: 10 },
  );
}

/**
 * Cuts the replicas off the primary at `address` and keeps them off, while every connection it
 * already has (the runtimes', the sentinels') goes on: new connections are refused (the default
 * user switched off), then the replicas' links are closed. What the primary takes from then on
 * reaches no replica — a network partition between them, or replicas far behind.
 */
export async function cutReplicasOff(address: string): Promise<void> {
  // One connection for both: once the user is off, no new one is let in.
  await ask(address, ['ACL', 'SETUSER', 'default', 'off'], ['CLIENT', 'KILL', 'TYPE', 'replica']);
}

/** Commands to the server at `address`, on a connection of its own; the last one's answer. */
export async function ask(address: string, ...commands: string[][]): Promise<unknown> {
  const [host, port] = address.split(':');
  const client = createClient({
    socket: {
      host: host ?? '',
      port: Number(port),
      connectTimeout: 1000,
      reconnectStrategy: false,
    },
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    let answer: unknown;
    for (const command of commands) answer = await client.sendCommand(command);
    return answer;
  } finally {
    client.destroy();
  }
}

/** What one sentinel knows of the primary it watches. */
async function sentinelView(
  address: string,
): Promise<{ replicas: number; sentinels: number; linked: boolean }> {
  const replicas = await ask(address, ['SENTINEL', 'REPLICAS', MASTER_NAME]);
  const others = await ask(address, ['SENTINEL', 'SENTINELS', MASTER_NAME]);
  // The client reads each replica's fields as an object; a flat list of pairs on RESP2.
  const fields = (entry: unknown): Map<string, string> => {
    if (Array.isArray(entry)) {
      const list = entry.map(String);
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < list.length; i += 2) map.set(list[i] ?? '', list[i + 1] ?? '');
      return map;
    }
    return new Map(Object.entries(entry as Record<string, string>));
  };
  const replicaList = Array.isArray(replicas) ? replicas.map(fields) : [];
  return {
    replicas: replicaList.length,
    sentinels: Array.isArray(others) ? others.length : 0,
    // Each replica's link to the primary is up: it has the data a promotion hands over.
    linked: replicaList.every((r) => r.get('master-link-status') === 'ok'),
  };
}

interface SentinelProcess {
  readonly address: string;
  stop(): Promise<void>;
}

function startSentinel(primary: string, timing: SentinelTiming): Promise<SentinelProcess> {
  return onAFreePort((port) => startSentinelOn(port, primary, timing));
}

async function startSentinelOn(
  port: number,
  primary: string,
  timing: SentinelTiming,
): Promise<SentinelProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-sentinel-'));
  const [host, primaryPort] = primary.split(':');
  const config = join(dir, 'sentinel.conf');
  // Sentinel rewrites its own config file as it learns the replicas and the other sentinels.
  writeFileSync(
    config,
    [
      `port ${String(port)}`,
      `bind ${serverHost()}`,
      'protected-mode no',
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} ${host ?? ''} ${primaryPort ?? ''} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${String(timing.downAfterMs ?? 1000)}`,
      `sentinel failover-timeout ${MASTER_NAME} ${String(timing.failoverTimeoutMs ?? 5000)}`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn('redis-sentinel', [config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      resolve();
    });
  });
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`redis-sentinel did not start:\n${output.join('\n')}`));
    }, START_TIMEOUT_MS);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`redis-sentinel could not run (make tools installs it): ${err.message}`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(new Error(`redis-sentinel exited before it was ready:\n${output.join('\n')}`));
    });
    if (proc.stdout === null) return;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      output.push(line);
      if (line.includes('+monitor master')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    address: `${serverHost()}:${String(port)}`,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A real `redis-server` (Debian's package; `make tools` installs it) for one test, on a free
 * loopback port and a directory of its own, never a system service:
 *
 *   const redis = await startRedis({ password: 'secret' });
 *   ... redis.address ...
 *   await redis.stop();    // and `await redis.start()` brings it back on the same port
 *
 * No persistence unless asked (`persist: true` keeps an append-only file fsynced on every
 * write, for the restart test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onAFreePort, serverHost } from './podReach.ts';

const START_TIMEOUT_MS = 10_000;

export interface RedisOptions {
  /** The address it binds, and its `address` names. @default serverHost() */
  readonly host?: string;
  readonly password?: string;
  readonly persist?: boolean;
  /**
   * Cluster mode on, with no slots assigned: it serves no keys, but answers CLUSTER KEYSLOT,
   * which a server without cluster mode refuses (test/rateLimitStore/keySlots.test.ts).
   */
  readonly clusterEnabled?: boolean;
  /** With clusterEnabled: how long a node is unreachable before the others fail it over. */
  readonly clusterNodeTimeoutMs?: number;
  /** A replica of the primary at this host:port (test/support/redisSentinel.ts). */
  readonly replicaOf?: string;
  /** Commands renamed away (`rename-command X ""`), as some managed services disable them. */
  readonly disabledCommands?: readonly string[];
}

export interface RedisHandle {
  /** host:port, as RateLimitPolicy spec.store.redis.address takes it. */
  readonly address: string;
  readonly port: number;
  readonly running: boolean;
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>;
  /** SIGTERM, and waits for the exit (an append-only file is flushed first). */
  stop(): Promise<void>;
  /** SIGKILL, and waits for the exit: a lost node, nothing flushed. */
  kill(): Promise<void>;
  /** SIGSTOP: the server holds every connection open and answers nothing. */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

export function startRedis(options: RedisOptions = {}): Promise<RedisHandle> {
  return onAFreePort((port) => startRedisOn(port, options));
}

async function startRedisOn(port: number, options: RedisOptions): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-redis-'));
  const host = options.host ?? serverHost();
  const args = [
    '--port',
    String(port),
    '--bind',
    host,
    // Pods reach it at the host's address (test/support/podReach.ts), which protected mode
    // refuses without a password; it is a throwaway server on this machine.
    '--protected-mode',
    'no',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.persist === true
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']),
    ...(options.password === undefined ? [] : ['--requirepass', options.password]),
    ...(options.clusterEnabled === true
      ? ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')]
      : []),
    ...(options.clusterNodeTimeoutMs === undefined
      ? []
      : // A replica fails over however long its link was down: a test's kill must promote.
        [
          '--cluster-node-timeout',
          String(options.clusterNodeTimeoutMs),
          '--cluster-replica-validity-factor',
          '0',
        ]),
    ...(options.replicaOf === undefined ? [] : ['--replicaof', ...options.replicaOf.split(':')]),
    ...(options.disabledCommands ?? []).flatMap((c) => ['--rename-command', c, '']),
  ];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const output: string[] = [];
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`redis-server did not start:\n${output.join('\n')}`));
      }, START_TIMEOUT_MS);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`redis-server could not run (make tools installs it): ${err.message}`));
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited before it was ready:\n${output.join('\n')}`));
      });
      createInterface({ input: proc.stdout }).on('line', (line) => {
        output.push(line);
        if (line.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    await exited;
    child = undefined;
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await exited;
    child = undefined;
  };

  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address: `${host}:${port}`,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    start,
    stop,
    kill,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

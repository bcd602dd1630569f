/**
 * Every key a Redis user touches, call by call, as the server itself saw it: MONITOR on a real
 * redis-server (7.0 shows each command a Lua script runs, as `[0 lua]` lines right after the
 * script's own EVAL or EVALSHA), the keys of each command from COMMAND GETKEYS (the server's
 * own key specs, no table of ours), and each key's hash slot from CLUSTER KEYSLOT on a server
 * with cluster mode on (one without refuses it):
 *
 *   const calls = await monitorCalls(redis.address);
 *   ... drive the user through its TypeScript entry points ...
 *   const seen = await calls.stop();
 *   const keyed = await keysOf(reader, seen);     // declared and touched keys of each call
 *   const slots = await slotsOf(slotServer, ...);
 */
import { createClient, type RedisClientType } from '@redis/client';

/** One command a client sent, with the commands it ran inside the server (a script's). */
export interface MonitoredCall {
  /** The client's address as MONITOR names it. */
  readonly client: string;
  readonly args: readonly string[];
  /** The commands a script ran (redis.call), in order; empty for a plain command. */
  readonly inner: (readonly string[])[];
}

export interface CallRecording {
  /** The calls seen so far (top-level commands, each with its inner ones). */
  calls(): readonly MonitoredCall[];
  /** Ends MONITOR and answers every call seen. */
  stop(): Promise<readonly MonitoredCall[]>;
}

/** Starts a MONITOR connection to `address` (host:port); calls are recorded from its answer on. */
export async function monitorCalls(address: string): Promise<CallRecording> {
  const client = createClient({ url: `redis://${address}` });
  // Destroying a monitoring client reports the closed socket: expected, not a failure.
  client.on('error', () => undefined);
  await client.connect();
  const calls: { client: string; args: readonly string[]; inner: (readonly string[])[] }[] = [];
  await client.monitor((line: string) => {
    const parsed = parseMonitorLine(line);
    if (parsed === undefined) return;
    if (parsed.source === 'lua') calls.at(-1)?.inner.push(parsed.args);
    else calls.push({ client: parsed.source, args: parsed.args, inner: [] });
  });
  return {
    calls: () => calls,
    stop: () => {
      client.destroy();
      return Promise.resolve(calls);
    },
  };
}

/** `1700000000.123456 [0 127.0.0.1:4242] "GET" "key"` → source and arguments. */
export function parseMonitorLine(
  line: string,
): { readonly source: string; readonly args: string[] } | undefined {
  const head = /^\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
  if (head === null) return undefined;
  const args: string[] = [];
  let at = head[0].length;
  while (at < line.length) {
    if (line[at] === ' ') {
      at++;
      continue;
    }
    if (line[at] !== '"') throw new Error(`cannot read MONITOR line: ${line}`);
    at++;
    // MONITOR writes each byte outside printable ASCII as \xHH: read bytes, then UTF-8.
    const bytes: number[] = [];
    for (;;) {
      const c = line[at];
      if (c === undefined) throw new Error(`unterminated argument in MONITOR line: ${line}`);
      at++;
      if (c === '"') break;
      if (c !== '\\') {
        bytes.push(...Buffer.from(c, 'utf8'));
        continue;
      }
      const e = line[at] ?? '';
      at++;
      if (e === 'x') {
        bytes.push(Number.parseInt(line.slice(at, at + 2), 16));
        at += 2;
      } else {
        const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };
        bytes.push((named[e] ?? e).charCodeAt(0));
      }
    }
    const arg = Buffer.from(bytes).toString('utf8');
    args.push(arg);
  }
  return { source: head[1] ?? '', args };
}

const SCRIPT_COMMANDS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);

export const isScript = (args: readonly string[]): boolean =>
  SCRIPT_COMMANDS.has((args[0] ?? '').toUpperCase());

/** The keys `args` names, by the server's own key specs (COMMAND GETKEYS). */
export async function commandKeys(
  client: RedisClientType,
  args: readonly string[],
): Promise<string[]> {
  // A command of one word names no key (COMMAND GETKEYS refuses it: TIME, PING).
  if (args.length < 2) return [];
  try {
    return await client.sendCommand<string[]>(['COMMAND', 'GETKEYS', ...args]);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // A command that names no key (TIME, SCAN, PING), or a script given none.
    if (message.includes('no key arguments')) return [];
    if (isScript(args) && args[2] === '0') return [];
    throw new Error(`COMMAND GETKEYS ${args.join(' ')}: ${message}`, { cause: err });
  }
}

/** Each key's hash slot, from CLUSTER KEYSLOT on a cluster-mode server (cached per key). */
export class SlotOracle {
  readonly #client: RedisClientType;
  readonly #known = new Map<string, number>();

  private constructor(client: RedisClientType) {
    this.#client = client;
  }

  static async connect(address: string): Promise<SlotOracle> {
    const client = createClient({ url: `redis://${address}` });
    await client.connect();
    return new SlotOracle(client);
  }

  async slot(key: string): Promise<number> {
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    const slot = Number(await this.#client.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    this.#known.set(key, slot);
    return slot;
  }

  close(): void {
    this.#client.destroy();
  }
}

/**
 * The leases on the runs the runtime executes, in the journal's Redis (lease.lua): one sorted
 * set of lease ends and one hash of holders per agent, under the `{runs}` hash tag. Every end
 * is the store's TIME plus the lease, so replicas whose clocks disagree still agree on which
 * lease has lapsed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import { runScript, type LuaScript } from '../rateLimitStore/luaScripts.ts';
import { acceptUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import type { Deadline } from './durableRuns.ts';
import type { LeaseStore } from './leaseKeeper.ts';

const source = readFileSync(new URL('./lease.lua', import.meta.url), 'utf8');
const LEASE_SCRIPT: LuaScript = {
  name: 'lease',
  source,
  sha: createHash('sha1').update(source).digest('hex'),
};

/** The two keys of an agent's leases. */
export function leaseKeys(prefix: string): string[] {
  return [`${prefix}:{runs}:lease-ends`, `${prefix}:{runs}:lease-holders`];
}

export class RunLeases implements LeaseStore {
  readonly #client: StoreCommands;
  readonly #keys: string[];
  readonly #replica: string;
  readonly #leaseMs: number;
  readonly #deadline: Deadline;

  /** `deadline` bounds each command: a renewal the store never answers is one that failed. */
  constructor(
    client: StoreCommands,
    prefix: string,
    replica: string,
    leaseMs: number,
    deadline: Deadline,
  ) {
    this.#client = client;
    this.#deadline = deadline;
    this.#keys = leaseKeys(prefix);
    this.#replica = replica;
    this.#leaseMs = leaseMs;
  }

  async acquire(run: string): Promise<boolean> {
    const [ok] = await this.#run('acquire', run);
    return ok === 1;
  }

  async renew(run: string): Promise<boolean> {
    const [ok] = await this.#run('renew', run);
    return ok === 1;
  }

  async takeOver(run: string): Promise<string | undefined> {
    const [ok, from] = await this.#run('takeover', run);
    return ok === 1 ? String(from) : undefined;
  }

  async release(run: string): Promise<void> {
    await this.#run('release', run);
  }

  async handOver(run: string): Promise<void> {
    await this.#run('handover', run);
  }

  async lapsed(limit: number): Promise<string[]> {
    // A read: under `acknowledge: Replicas` its answer stands whatever the replicas hold.
    const reply = await this.#deadline(
      acceptUnacknowledged(
        runScript(this.#client, LEASE_SCRIPT, this.#keys, [
          'lapsed',
          String(limit),
          this.#replica,
          String(this.#leaseMs),
        ]),
        () => undefined,
      ),
    );
    return (reply as unknown[]).map(String);
  }

  async #run(mode: string, run: string): Promise<[number, unknown]> {
    const reply = await this.#deadline(
      runScript(this.#client, LEASE_SCRIPT, this.#keys, [
        mode,
        run,
        this.#replica,
        String(this.#leaseMs),
      ]),
    );
    return reply as [number, unknown];
  }
}

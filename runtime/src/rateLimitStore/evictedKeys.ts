/**
 * Keys a store's servers evicted, counted from `INFO`'s `evicted_keys`. The policy the
 * eviction check reads is a setting at one instant: an outside attack set the store evicting
 * for a quarter of a second between two checks, evicted a budget account with 433 other keys,
 * set it back, and the check never saw it. `evicted_keys` is what the server did: it only grows
 * while the server process runs, so a count above the last one read means keys were evicted
 * since, whatever the policy reads now.
 *
 * The count is per process: a restart or a failover to another server starts it again, and
 * `CONFIG RESETSTAT` zeroes it. So each server's count is kept by its `run_id` (one per process),
 * and a server read for the first time, or a count lower than the last, is a baseline, not an
 * increase: keys evicted before the first reading (or before a reset) cannot be told.
 */

/** One server's answer: which process, on which port, and the keys it has evicted since it started. */
export interface EvictionReading {
  readonly runId: string;
  readonly port: string | undefined;
  readonly evictedKeys: number;
}

/** The reading in an `INFO` answer with its server and stats sections; undefined without them. */
export function evictionReadingOf(info: string): EvictionReading | undefined {
  const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
  const runId = field('run_id');
  const evictedKeys = Number(field('evicted_keys'));
  if (runId === undefined || !Number.isSafeInteger(evictedKeys) || evictedKeys < 0)
    return undefined;
  return { runId, port: field('tcp_port'), evictedKeys };
}

/**
 * How many checks a server may go unread (not answering, or gone after a failover) before its
 * last count is forgotten. Forgotten, its next reading is a baseline again.
 */
export const FORGET_AFTER_CHECKS = 10;

/** The last count of each server, and the keys evicted since the first reading of each. */
export class EvictedKeys {
  readonly #last = new Map<string, { count: number; check: number }>();
  #checks = 0;
  #total = 0;

  /** Keys evicted since each server was first read, summed over servers. */
  get total(): number {
    return this.#total;
  }

  /**
   * Takes one check's readings (one per server that answered) and gives, for each server whose
   * count grew since its last reading, the keys evicted in between.
   */
  observe(readings: readonly EvictionReading[]): EvictionReading[] {
    const check = ++this.#checks;
    const increases: EvictionReading[] = [];
    for (const reading of readings) {
      const last = this.#last.get(reading.runId);
      this.#last.set(reading.runId, { count: reading.evictedKeys, check });
      if (last === undefined || reading.evictedKeys <= last.count) continue;
      const evicted = reading.evictedKeys - last.count;
      this.#total += evicted;
      increases.push({ ...reading, evictedKeys: evicted });
    }
    for (const [runId, last] of this.#last)
      if (check - last.check >= FORGET_AFTER_CHECKS) this.#last.delete(runId);
    return increases;
  }
}

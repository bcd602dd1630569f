/**
 * The spend history's lost nodes (test/support/spendWorkload.ts): where in a round a replica is
 * SIGKILLed, and the kill itself, timed to land while the store holds a call of the victim's.
 */
import type { Random } from '../../platform/src/random/random.ts';
import type { BudgetAgent } from './budgetStoreFixture.ts';
import { auditOf } from './spendAudit.ts';
import { waitFor } from './waitFor.ts';

/** One replica killed: which, after how many calls had started, and what it had open. */
export interface Kill {
  readonly replica: string;
  readonly afterCalls: number;
  /** Its reservations not yet settled when it died. */
  readonly open: number;
}

/**
 * `kills` call indices, each a replica: between a tenth and two fifths of the round, while the
 * budgets still admit calls (later nearly every call is refused, and nothing is held to lapse).
 */
export function killPoints(random: Random, calls: number, kills: number): Map<number, number> {
  const points = new Map<number, number>();
  for (let k = 0; k < kills; k++) {
    const at = Math.floor(calls * (0.1 + (0.3 * (k + random())) / kills));
    points.set(at, Math.floor(random() * 3));
  }
  return points;
}

/**
 * SIGKILLs replica `index` once the store holds every reservation of its own not yet settled
 * (or after 5 s without), and starts another in its place. Its name is its place among every
 * replica started (r3 for the first replaced), as readAudit names them.
 */
export async function killMidCall(
  agent: BudgetAgent,
  index: number,
  afterCalls: number,
): Promise<Kill & { atMs: number }> {
  const victim = agent.agent.replicas[index];
  if (victim === undefined) throw new Error(`no replica ${String(index)}`);
  const replica = `r${String(agent.agent.started.indexOf(victim))}`;
  // Its reservations not yet settled, and of those the ones the store holds under a lease.
  const open = () => {
    const { reservations, settlements } = auditOf(victim.runtime.output, replica);
    const done = new Set(settlements.map((s) => s.reservation));
    return reservations
      .filter((r) => !done.has(r.reservation) && !done.has(r.of ?? ''))
      .map((r) => r.reservation);
  };
  // Every open reservation of the victim held under a lease: none in flight to the store, and
  // none settled there whose record the victim has not yet written (a settlement the store
  // applied while its record died with the process would leave the store counting a cost no
  // replica recorded; what a killed pod's audit trail can miss, not what its budgets can).
  const allHeldInStore = async () => {
    const ids = open();
    if (ids.length === 0) return false;
    const leases = new Set((await agent.accounts()).flatMap((a) => a.leases));
    return ids.every((id) => leases.has(id));
  };
  // The victim is frozen (SIGSTOP) before the store is read, so that what the look sees holds
  // until the kill: read while it ran, the look went stale whenever a call ended in between
  // (one CI run killed a replica whose holds had all settled). A settlement it sent before the
  // freeze reaches redis before the look does.
  const child = victim.runtime.child;
  const frozenWithAHold = async () => {
    if (open().length === 0) return false;
    child.kill('SIGSTOP');
    if (await allHeldInStore()) return true;
    child.kill('SIGCONT');
    return false;
  };
  await waitFor(frozenWithAHold, {
    description: `a call of ${replica} held in the store`,
    timeoutMs: 5_000,
    intervalMs: 20,
  }).catch(() => undefined);
  const atMs = Date.now();
  const openAtKill = open().length;
  await agent.agent.replace(index);
  return { replica, afterCalls, open: openAtKill, atMs };
}

/**
 * The budget records of the spend history's replicas (test/support/spendWorkload.ts): each
 * runtime's `budget_reserved`, `budget_room_reserved` and `budget_settled` audit lines, read from
 * its output as test/support/spendHistory.ts takes them, the killed replicas' too.
 */
import type { BudgetAgent } from './budgetStoreFixture.ts';
import type { BudgetAccountName, Reservation, Settlement } from './spendHistory.ts';

interface AuditLine {
  readonly audit?: boolean;
  readonly event?: string;
  readonly requestId?: string;
  readonly reservation?: string;
  readonly model?: string;
  readonly accounts?: BudgetAccountName[];
  readonly worstPico?: string;
  /** A retry's room: the call's reservation. */
  readonly of?: string;
  readonly decision?: Settlement['decision'];
  readonly costPico?: string;
}

/** Every replica's `budget_reserved` and `budget_settled` audit lines so far, the killed ones' too. */
export function readAudit(agent: BudgetAgent): {
  reservations: Reservation[];
  settlements: Settlement[];
} {
  const all = agent.agent.started.map((r, i) => auditOf(r.runtime.output, `r${String(i)}`));
  return {
    reservations: all.flatMap((a) => a.reservations),
    settlements: all.flatMap((a) => a.settlements),
  };
}

/** One replica's budget records in its output. */
export function auditOf(
  output: readonly string[],
  replica: string,
): { reservations: Reservation[]; settlements: Settlement[] } {
  const reservations: Reservation[] = [];
  const settlements: Settlement[] = [];
  for (const text of output) {
    if (!text.startsWith('{') || !text.includes('"budget_')) continue;
    const line = parsed(text);
    if (line === undefined) continue;
    if (line.audit !== true || line.reservation === undefined) continue;
    const requestId = line.requestId;
    if (line.event === 'budget_reserved' || line.event === 'budget_room_reserved')
      reservations.push({
        replica,
        reservation: line.reservation,
        requestId,
        model: line.model ?? '',
        accounts: line.accounts ?? [],
        worstPico: BigInt(line.worstPico ?? '0'),
        ...(line.of === undefined ? {} : { of: line.of }),
      });
    else if (line.event === 'budget_settled')
      settlements.push({
        replica,
        reservation: line.reservation,
        requestId,
        decision: line.decision ?? 'pending',
        costPico: BigInt(line.costPico ?? '0'),
      });
  }
  return { reservations, settlements };
}

/** A line of output as JSON; undefined for one a SIGKILL cut short. */
function parsed(text: string): AuditLine | undefined {
  try {
    return JSON.parse(text) as AuditLine;
  } catch {
    return undefined;
  }
}

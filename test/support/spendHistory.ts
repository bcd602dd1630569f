/**
 * A history checker for budgets across replicas (issue 50, item 9): what every replica
 * recorded of each call's budgets (the audit log's `budget_reserved` and `budget_settled`,
 * runtime/src/budget/budgetAudit.ts), what its client saw, what the store holds at
 * the end and what the provider billed (the simulator's `GET /_sim/usage`, matched to the
 * caller by the trace it sent) are folded into spend per budget account and period, and
 * checked against docs/guarantees.md:
 *
 * - B1: each account's settled spend ≤ its limit; every settlement has one reservation and
 *   is made once; a call served had its budgets admitted; the store counts what was settled.
 * - M1–M10, M12: each call settled no less than the provider billed for it, every attempt of
 *   it, and every turn of an invocation of the bundled agent.
 * - B9: nothing billed for a call the runtime never admitted (refused before any provider call).
 * - B10: every hold released at the end, in the replicas' records and in the store; a hold a
 *   SIGKILLed replica left behind is charged at its worst case once its lease lapses (the store
 *   marks it `lapsed:<reservation>`), never less than the provider billed its call, and that
 *   charge counts against the limit with the rest (B1's bound with B10's terms).
 *
 * Pure: it reads records, never a process. Money is bigint picodollars.
 */
import { formatMoney } from '../../contract/src/spend/money.ts';
import type { BudgetAccountName } from '../../runtime/src/budget/budgetAudit.ts';

export type { BudgetAccountName };

/**
 * A `budget_reserved` record, with the replica that wrote it; or a `budget_room_reserved` one
 * (`of` set): a retry's room for the attempts made, released when its call (`of`) settles.
 */
export interface Reservation {
  readonly replica: string;
  readonly reservation: string;
  /** A retry's room: the reservation of the call it belongs to. */
  readonly of?: string;
  readonly requestId?: string | undefined;
  readonly model: string;
  readonly accounts: readonly BudgetAccountName[];
  readonly worstPico: bigint;
}

/** A `budget_settled` record. */
export interface Settlement {
  readonly replica: string;
  readonly reservation: string;
  readonly requestId?: string | undefined;
  readonly decision: 'pending' | 'store' | 'local' | 'refused';
  readonly costPico: bigint;
}

/** What the client saw of one call it made, and how it was made. */
export interface ClientCall {
  /** The `x-request-id` it sent, which the runtime records its budgets under. */
  readonly requestId: string;
  /** The trace id of the `traceparent` it sent, which the provider's bills name. */
  readonly traceId: string;
  readonly outcome: 'served' | 'refused' | 'failed';
  readonly stream: boolean;
  /** It hung up on the stream before its end. */
  readonly cut: boolean;
  readonly tools: boolean;
  /**
   * A `/v1/agent/invoke` of the bundled agent: its turns are calls of their own, each reserved
   * and settled under the invocation's request id and billed under its trace (M12).
   */
  readonly invoke?: boolean;
  /** Answered by a fallback model (a budget's Fallback, or the chain after a failure). */
  readonly fallback: boolean;
}

/** One call the provider billed, priced. */
export interface Bill {
  /** The provider's own id for it. */
  readonly id: string;
  /** The caller's trace it carried; undefined: none (a call nobody made through the test). */
  readonly traceId?: string | undefined;
  readonly billedPico: bigint;
}

/** A budget's limit, by name. */
export interface BudgetLimit {
  readonly budget: string;
  readonly limitPico: bigint;
}

/** An account as the store holds it at the end. */
export interface StoredAccount {
  readonly account: BudgetAccountName;
  readonly spentPico: bigint;
  readonly reservedPico: bigint;
  /** Reservations whose lease lapsed unsettled, charged at their worst case (`lapsed:<id>`). */
  readonly lapsed?: readonly string[];
}

export interface SpendHistory {
  readonly reservations: readonly Reservation[];
  readonly settlements: readonly Settlement[];
  readonly calls: readonly ClientCall[];
  readonly bills: readonly Bill[];
  readonly limits: readonly BudgetLimit[];
  /** The store's accounts at the end; absent: not checked. */
  readonly store?: readonly StoredAccount[];
  /** Replicas SIGKILLed during the history: theirs are the only reservations that may lapse. */
  readonly killed?: readonly string[];
}

/** A promise the history breaks: its row in docs/guarantees.md, the calls, and why. */
export interface Violation {
  readonly row: string;
  readonly calls: readonly string[];
  readonly why: string;
}

/** One account's figures over the history. */
export interface AccountFigures {
  readonly account: string;
  readonly limitPico: bigint | undefined;
  /** Settled, and charged for lapsed holds: what counts against the limit. */
  readonly settledPico: bigint;
  /** The part of `settledPico` charged for holds that lapsed (B10). */
  readonly lapsedPico: bigint;
  /** What the provider billed for the calls this account paid for. */
  readonly billedPico: bigint;
  readonly calls: number;
}

export interface HistoryVerdict {
  readonly violations: readonly Violation[];
  readonly accounts: readonly AccountFigures[];
  readonly billedPico: bigint;
  /** Settled by the replicas and charged for lapsed holds, over every account's calls. */
  readonly settledPico: bigint;
  /** Holds a killed replica left, charged at their worst case when their lease lapsed. */
  readonly lapses: number;
  readonly lapsedPico: bigint;
  /** What the provider billed the calls whose holds lapsed. */
  readonly lapsedBilledPico: bigint;
}

/** An account's name in messages and figures: `daily/Agent@<periodStartMs>`, a key after it. */
export function accountLabel(a: BudgetAccountName): string {
  const who = a.who === '' ? '' : `/${a.who}`;
  return `${a.budget}/${a.per}${who}@${String(a.periodStartMs)}`;
}

const ADMITTED: ReadonlySet<Settlement['decision']> = new Set(['store', 'local']);

/** Folds the history into spend per account and period, and lists every promise it breaks. */
export function checkSpendHistory(history: SpendHistory): HistoryVerdict {
  const violations: Violation[] = [];
  const broke = (row: string, calls: readonly string[], why: string) => {
    violations.push({ row, calls, why });
  };

  const reservations = new Map<string, Reservation>();
  for (const r of history.reservations) {
    if (reservations.has(r.reservation))
      broke('B1', [callName(r)], `reservation ${r.reservation} was made twice`);
    reservations.set(r.reservation, r);
  }

  // Each reservation's one settlement; what it cost goes to each of its accounts.
  const settled = new Map<string, Settlement>();
  const settledIn = new Map<string, bigint>();
  const lapsedIn = new Map<string, bigint>();
  const paidBy = new Map<string, Set<string>>();
  const costOf = new Map<string, bigint>();
  const admitted = new Set<string>();
  const charge = (
    accounts: readonly BudgetAccountName[],
    requestId: string | undefined,
    costPico: bigint,
  ) => {
    if (requestId !== undefined) costOf.set(requestId, (costOf.get(requestId) ?? 0n) + costPico);
    for (const account of accounts) {
      const label = accountLabel(account);
      settledIn.set(label, (settledIn.get(label) ?? 0n) + costPico);
      if (requestId !== undefined) {
        let calls = paidBy.get(label);
        if (calls === undefined) paidBy.set(label, (calls = new Set()));
        calls.add(requestId);
      }
    }
  };
  // B10: a killed replica's holds never settle. One the store admitted lapses and is charged at
  // its worst case; one that never reached the store holds nothing. A live replica settles all.
  const killed = new Set(history.killed ?? []);
  const lapsedIds = new Set((history.store ?? []).flatMap((a) => a.lapsed ?? []));
  // A settlement a killed replica recorded and queued but never sent went with it: the store
  // still marks its hold lapsed, so the lapse's worst case stands where the record says its cost.
  const lost = (s: Settlement) => killed.has(s.replica) && lapsedIds.has(s.reservation);
  for (const s of history.settlements) {
    const reserved = reservations.get(s.reservation);
    if (reserved === undefined)
      broke('B1', [callName(s)], `settled ${pico(s.costPico)} without a reservation`);
    else if (settled.has(s.reservation)) {
      broke('B1', [callName(s)], `reservation ${s.reservation} settled twice`);
      continue;
    }
    if (reserved !== undefined) settled.set(s.reservation, s);
    if (ADMITTED.has(s.decision) && s.requestId !== undefined) admitted.add(s.requestId);
    if (!lost(s)) charge(reserved?.accounts ?? [], s.requestId, s.costPico);
  }

  const lapsedCalls = new Set<string>();
  let lapses = 0;
  let lapsedPico = 0n;
  for (const id of lapsedIds) {
    const r = reservations.get(id);
    if (r === undefined) {
      broke('B10', [id], 'the store charged a lapsed hold that no replica recorded');
      continue;
    }
    if (!killed.has(r.replica)) {
      // A live replica's settlement corrects a lapse; one still marked was never applied.
      if (settled.has(r.of ?? id))
        broke(
          'B10',
          [callName(r)],
          `settled by ${r.replica}, but the store still charges ${id} as lapsed`,
        );
      continue;
    }
    // Lapsed in the store: neither it nor its call's settlement (a retry's room is released
    // with its call) reached the store before the replica died.
    lapses++;
    lapsedPico += r.worstPico;
    charge(r.accounts, r.requestId, r.worstPico);
    for (const account of r.accounts) {
      const label = accountLabel(account);
      lapsedIn.set(label, (lapsedIn.get(label) ?? 0n) + r.worstPico);
    }
    if (r.requestId !== undefined) {
      admitted.add(r.requestId);
      lapsedCalls.add(r.requestId);
    }
  }
  // A killed replica's hold the store still has shows as held there (below).
  const open = [...reservations.values()].filter(
    (r) => !settled.has(r.of ?? r.reservation) && !killed.has(r.replica),
  );
  if (open.length > 0)
    broke(
      'B10',
      open.map(callName),
      `${String(open.length)} reservation(s) never settled nor released, holding ${pico(sum(open.map((r) => r.worstPico)))}`,
    );

  // What the provider billed each call, every attempt of it, matched by the caller's trace.
  const byTrace = new Map(history.calls.map((c) => [c.traceId, c]));
  const billedFor = new Map<string, bigint>();
  const attempts = new Map<string, number>();
  for (const bill of history.bills) {
    const call = bill.traceId === undefined ? undefined : byTrace.get(bill.traceId);
    if (call === undefined) {
      broke('B9', [bill.id], `billed ${pico(bill.billedPico)} for a call no client made`);
      continue;
    }
    billedFor.set(call.requestId, (billedFor.get(call.requestId) ?? 0n) + bill.billedPico);
    attempts.set(call.requestId, (attempts.get(call.requestId) ?? 0) + 1);
    if (!admitted.has(call.requestId))
      broke(
        'B9',
        [call.requestId],
        `billed ${pico(bill.billedPico)} for a call the runtime never admitted (${call.outcome})`,
      );
  }

  for (const call of history.calls) {
    const billed = billedFor.get(call.requestId) ?? 0n;
    const cost = costOf.get(call.requestId) ?? 0n;
    if (cost < billed)
      broke(
        lapsedCalls.has(call.requestId) ? 'B10' : costRow(call, attempts.get(call.requestId) ?? 0),
        [call.requestId],
        `settled ${pico(cost)}, less than the ${pico(billed)} billed`,
      );
    if (call.outcome === 'served' && !admitted.has(call.requestId))
      broke('B1', [call.requestId], 'served without its budgets admitting it');
  }

  const limits = new Map(history.limits.map((l) => [l.budget, l.limitPico]));
  const names = new Map<string, BudgetAccountName>();
  for (const r of history.reservations) for (const a of r.accounts) names.set(accountLabel(a), a);
  const accounts: AccountFigures[] = [];
  for (const [label, account] of names) {
    const limitPico = limits.get(account.budget);
    const settledPico = settledIn.get(label) ?? 0n;
    const calls = [...(paidBy.get(label) ?? [])];
    const billedPico = sum(calls.map((id) => billedFor.get(id) ?? 0n));
    if (limitPico !== undefined && settledPico > limitPico)
      broke(
        'B1',
        calls,
        `${label} settled ${pico(settledPico)}${lapsedNote(lapsedIn.get(label))}, past its limit of ${pico(limitPico)}`,
      );
    accounts.push({
      account: label,
      limitPico,
      settledPico,
      lapsedPico: lapsedIn.get(label) ?? 0n,
      billedPico,
      calls: calls.length,
    });
  }
  accounts.sort((a, b) => a.account.localeCompare(b.account));

  for (const stored of history.store ?? []) {
    const label = accountLabel(stored.account);
    if (stored.reservedPico !== 0n)
      broke('B10', [], `the store still holds ${pico(stored.reservedPico)} in ${label}`);
    const settledPico = settledIn.get(label) ?? 0n;
    if (stored.spentPico !== settledPico)
      broke(
        'B1',
        [],
        `the store counts ${pico(stored.spentPico)} spent in ${label}, the replicas settled ${pico(settledPico)}${lapsedNote(lapsedIn.get(label))}`,
      );
  }

  return {
    violations,
    accounts,
    billedPico: sum([...billedFor.values()]),
    settledPico:
      sum([...settled.values()].filter((s) => !lost(s)).map((s) => s.costPico)) + lapsedPico,
    lapses,
    lapsedPico,
    lapsedBilledPico: sum([...lapsedCalls].map((id) => billedFor.get(id) ?? 0n)),
  };
}

function lapsedNote(lapsed: bigint | undefined): string {
  return lapsed === undefined || lapsed === 0n ? '' : ` (${pico(lapsed)} of it lapsed holds)`;
}

/**
 * Every record of the calls the violations name, a call to a line: what its client saw, its
 * reservations and settlements (with the replica), its lapse, and its bills. What a failing
 * run prints after the violations, so that it can be read without running it again.
 */
export function offendingHistory(
  history: SpendHistory,
  violations: readonly Violation[],
  most = 20,
): string {
  const named = [...new Set(violations.flatMap((v) => v.calls))];
  const lapsed = new Set((history.store ?? []).flatMap((a) => a.lapsed ?? []));
  const lines = named.slice(0, most).map((id) => {
    const call = history.calls.find((c) => c.requestId === id);
    const reserved = history.reservations.filter((r) => r.requestId === id || r.reservation === id);
    const ids = new Set(reserved.map((r) => r.reservation));
    const settled = history.settlements.filter((s) => s.requestId === id || ids.has(s.reservation));
    const bills = history.bills.filter(
      (b) => b.id === id || (call !== undefined && b.traceId === call.traceId),
    );
    const parts = [
      call === undefined
        ? 'no client call'
        : `${call.outcome}${call.invoke === true ? ' invoke' : ''}${call.stream ? ' stream' : ''}${call.cut ? ' cut' : ''}${call.tools ? ' tools' : ''}${call.fallback ? ' fallback' : ''} trace ${call.traceId}`,
      ...reserved.map(
        (r) =>
          `reserved ${pico(r.worstPico)} on ${r.replica} (${r.reservation}, ${r.model})${lapsed.has(r.reservation) ? ', lapsed' : ''}`,
      ),
      ...settled.map((s) => `settled ${pico(s.costPico)} on ${s.replica} (${s.decision})`),
      ...bills.map((b) => `billed ${pico(b.billedPico)} (${b.id})`),
    ];
    return `  ${id}: ${parts.join('; ')}`;
  });
  if (named.length > most) lines.push(`  … and ${String(named.length - most)} more`);
  return lines.join('\n');
}

/** One line per violation, for a test's failure message. */
export function describeViolations(violations: readonly Violation[]): string {
  return violations
    .map((v) => `${v.row}: ${v.why}${v.calls.length === 0 ? '' : ` [${v.calls.join(', ')}]`}`)
    .join('\n');
}

/** The row that promises a call of this shape settles no less than it was billed. */
function costRow(call: ClientCall, billedAttempts: number): string {
  if (call.invoke === true) return 'M12';
  if (call.cut) return 'M3';
  if (billedAttempts > 1) return 'M10';
  if (call.fallback) return 'M9';
  if (call.tools) return 'M6';
  return call.stream ? 'M2' : 'M1';
}

function callName(record: {
  readonly requestId?: string | undefined;
  readonly reservation: string;
}) {
  return record.requestId ?? record.reservation;
}

function sum(values: readonly bigint[]): bigint {
  return values.reduce((a, b) => a + b, 0n);
}

/** Picodollars as dollars, exactly. */
export function pico(amount: bigint): string {
  return amount < 0n ? `-$${formatMoney(-amount)}` : `$${formatMoney(amount)}`;
}

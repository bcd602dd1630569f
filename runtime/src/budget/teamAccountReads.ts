/**
 * A team's budget (`per: Policy`) as the store holds it, for the pod report. The team's account
 * is every agent's on the policy, so what this process reports of its own spend is only its
 * part; the operator shows the team's figure from these reads (operator/src/spend/
 * teamBudgets.ts), which carry when they were read and the period they are of.
 *
 * Never on a call's path, and never one read per call: one HMGET per team budget, at most once
 * per READ_EVERY_MS. A call that ends owes two reads (the second one after its settlement has
 * surely gone: settlements go on the next turn, or ride with the next admission within
 * SETTLE_WITHIN_MS); an idle process reads every IDLE_READ_MS, for the other agents' spend.
 * The admission script's answer carries the account too, but as it was before this call's
 * settlement, and the settlement answers no amounts: a read is the figure that is current.
 */
import type { BudgetSettings, SpendSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { TeamAccountRead } from '../../../contract/src/reporting/budgetReport.ts';
import { calendarPeriod } from '../../../contract/src/spend/calendarPeriod.ts';
import { moneyFromMicros } from '../../../contract/src/spend/money.ts';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { CommandSender } from '../rateLimitStore/luaScripts.ts';

/** The least time between two reads: the pod report's own interval. */
export const READ_EVERY_MS = 1000;
/** How often an idle process reads: the other agents spend while it does not. */
export const IDLE_READ_MS = 30_000;

/** The account's amounts, as budget.lua keeps them (money in micro and pico past it). */
const FIELDS = [
  'spent_micro',
  'spent_pico',
  'reserved_micro',
  'reserved_pico',
  'spent_tokens',
  'reserved_tokens',
];

export interface TeamAccountReadsOptions {
  readonly clock: Clock;
  /** The store's connection while it answers; undefined: no read now. */
  readonly connection: () => CommandSender | undefined;
  /** A read changed a figure: the pod report has something new. */
  readonly onChange: () => void;
}

export class TeamAccountReads {
  readonly #clock: Clock;
  readonly #connection: () => CommandSender | undefined;
  readonly #onChange: () => void;
  #budgets: readonly BudgetSettings[] = [];
  #timeZone = 'UTC';
  #prefix: string | undefined;
  /** The last read of each team budget, by name. */
  readonly #reads = new Map<string, TeamAccountRead>();
  #timer: Cancel | undefined;
  /** Reads the calls that ended still owe. */
  #owed = 0;
  #lastReadMs = -Infinity;
  /** A read is under way (its timer has fired; `#timer` stays set until it ends). */
  #reading = false;

  constructor(options: TeamAccountReadsOptions) {
    this.#clock = options.clock;
    this.#connection = options.connection;
    this.#onChange = options.onChange;
  }

  /** The policy's team budgets and the store's prefix of their accounts (absent: no store). */
  configure(spend: SpendSettings | undefined, teamKeyPrefix: string | undefined): void {
    this.#budgets =
      teamKeyPrefix === undefined ? [] : (spend?.budgets ?? []).filter((b) => b.per === 'Policy');
    this.#timeZone = spend?.timeZone ?? 'UTC';
    if (this.#prefix !== teamKeyPrefix) this.#reads.clear();
    this.#prefix = teamKeyPrefix;
    for (const name of this.#reads.keys())
      if (!this.#budgets.some((b) => b.name === name)) this.#reads.delete(name);
    if (this.#budgets.length === 0) this.#stop();
    else this.#arm();
  }

  /** A call under the budgets ended: its settlement changes the team's account. */
  called(): void {
    if (this.#budgets.length === 0) return;
    this.#owed = 2;
    // An idle read waiting: sooner now (a read under way arms the next when it ends).
    if (!this.#reading) this.#stop(false);
    this.#arm();
  }

  /** The last read of `budget`'s account; undefined before the first, or without a store. */
  read(budget: string): TeamAccountRead | undefined {
    return this.#reads.get(budget);
  }

  close(): void {
    this.#budgets = [];
    this.#stop();
  }

  #stop(forget = true): void {
    this.#timer?.();
    this.#timer = undefined;
    if (forget) this.#owed = 0;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#budgets.length === 0) return;
    const due = this.#lastReadMs + (this.#owed > 0 ? READ_EVERY_MS : IDLE_READ_MS);
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#reading = true;
        void this.#readAll().finally(() => {
          this.#reading = false;
          this.#timer = undefined;
          this.#arm();
        });
      },
      Math.max(0, due - this.#clock.now()),
    );
  }

  async #readAll(): Promise<void> {
    const now = this.#clock.now();
    this.#lastReadMs = now;
    const connection = this.#connection();
    const prefix = this.#prefix;
    if (connection === undefined || prefix === undefined) return;
    if (this.#owed > 0) this.#owed--;
    let changed = false;
    for (const budget of this.#budgets) {
      const period = calendarPeriod(now, budget.period, this.#timeZone);
      // The key storeAccount (budgetStoreAccounts.ts) gives a team's account in the store.
      const key = `${prefix}:budget:${budget.name}:${String(period.startMs)}`;
      let reply: unknown;
      try {
        reply = await connection.sendCommand(['HMGET', key, ...FIELDS]);
      } catch {
        // The store's own calls say when it is down; the next read tries again.
        return;
      }
      const read = accountRead(reply, period.startMs, now);
      if (read === undefined || sameRead(this.#reads.get(budget.name), read)) continue;
      this.#reads.set(budget.name, read);
      changed = true;
    }
    if (changed) this.#onChange();
  }
}

/** An HMGET's answer as a read; a field not there yet (a new account) is 0. */
function accountRead(
  reply: unknown,
  periodStartMs: number,
  now: number,
): TeamAccountRead | undefined {
  if (!Array.isArray(reply) || reply.length !== FIELDS.length) return undefined;
  const n = (reply as unknown[]).map((v) => {
    const text = typeof v === 'string' ? v : v instanceof Buffer ? v.toString() : '0';
    return /^[0-9]{1,20}$/.test(text) ? BigInt(text) : 0n;
  });
  const [sm = 0n, sp = 0n, rm = 0n, rp = 0n, st = 0n, rt = 0n] = n;
  return {
    periodStart: new Date(periodStartMs).toISOString(),
    readAt: new Date(now).toISOString(),
    spent: { picoUsd: moneyFromMicros(sm) + sp, tokens: Number(st) },
    held: { picoUsd: moneyFromMicros(rm) + rp, tokens: Number(rt) },
  };
}

/** The same figures of the same period: no new report (the time alone is not news). */
function sameRead(a: TeamAccountRead | undefined, b: TeamAccountRead): boolean {
  return (
    a !== undefined &&
    a.periodStart === b.periodStart &&
    a.spent.picoUsd === b.spent.picoUsd &&
    a.spent.tokens === b.spent.tokens &&
    a.held.picoUsd === b.held.picoUsd &&
    a.held.tokens === b.held.tokens
  );
}

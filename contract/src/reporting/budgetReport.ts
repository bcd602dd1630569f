/**
 * The `breakwater.dev/budgets` pod annotation: what this runtime process has spent of each
 * budget in its current period, for the operator to fold into the agent's spend ledger
 * (operator/src/spend/spendLedger.ts) and the RateLimitPolicy's status. A sibling of the
 * breaker annotation, absent while the policy has no budgets.
 *
 *   {"source":"replica","budgets":{"monthly":{"p":"2026-11-01T00:00:00.000Z","usd":"1386000000",
 *    "tok":2310,"hUsd":"0","hTok":0,"keys":[["key-3f9a…","900000000",1500]],"oUsd":"0","oTok":0}}}
 *
 * Amounts are picodollars as decimal strings (a bigint does not survive JSON), tokens
 * integers. `h…` is the worst case of calls in flight; `keys` (per ClientKey) the largest
 * spenders by fingerprint, never the key, at most MAX_REPORTED_KEYS; `o…` the most any key
 * not listed has spent, so whoever reads the report can bound the rest.
 *
 * A team's budget (`per: Policy`), with a store, adds `t`: the team's account as this pod last
 * read it from the store (`at`), of the period `p` (every agent's replicas charge it, so it is
 * the team's figure, not this process's):
 *
 *   "team":{…,"t":{"p":"2026-11-01T00:00:00.000Z","usd":"…","tok":…,"hUsd":"…","hTok":…,
 *    "at":"2026-11-28T13:50:01.000Z"}}
 *
 * `source` says whose figures they are: `replica`, this process's own (the operator sums the
 * pods), or `store`, the agent-wide figure the rate-limit store holds (every pod reports the
 * same total, so the operator takes the newest rather than a sum).
 */
import { isReportObject, readReportObject } from './reportJson.ts';
import { moneyText } from '../spend/money.ts';
export const BUDGETS_ANNOTATION = 'breakwater.dev/budgets';

/** Top spenders a report names per ClientKey budget: bounds the annotation's size. */
export const MAX_REPORTED_KEYS = 5;
/** Budgets a policy may have (spec.budgets maxItems). */
const MAX_BUDGETS = 16;

export type BudgetReportSource = 'replica' | 'store';

export interface ReportedAmount {
  readonly picoUsd: bigint;
  readonly tokens: number;
}

export interface ReportedKeySpend extends ReportedAmount {
  /** The client key's fingerprint (`key-…`) or `no-key`. */
  readonly key: string;
}

export interface BudgetReportEntry {
  /** When the period this spend belongs to began (RFC 3339). */
  readonly periodStart: string;
  /** Settled spend. */
  readonly spent: ReportedAmount;
  /** The worst case of calls in flight. */
  readonly held: ReportedAmount;
  /** per ClientKey: the largest spenders, largest first. */
  readonly keys?: readonly ReportedKeySpend[];
  /** per ClientKey: the most any key not in `keys` has spent. */
  readonly others?: ReportedAmount;
  /** per Policy, with a store: the team's account as this pod last read it there. */
  readonly team?: TeamAccountRead;
}

/** A team's account (`per: Policy`) as the store held it when a pod read it. */
export interface TeamAccountRead {
  /** When the account's period began (RFC 3339): the account is that period's. */
  readonly periodStart: string;
  /** When the pod read it (RFC 3339, the pod's clock). */
  readonly readAt: string;
  /** Settled spend of every agent on the policy. */
  readonly spent: ReportedAmount;
  /** The worst case of their calls in flight. */
  readonly held: ReportedAmount;
}

export interface BudgetReport {
  readonly source: BudgetReportSource;
  /** By budget name. */
  readonly budgets: Readonly<Record<string, BudgetReportEntry>>;
}

interface WireEntry {
  p: string;
  usd: string;
  tok: number;
  hUsd: string;
  hTok: number;
  keys?: [string, string, number][];
  oUsd?: string;
  oTok?: number;
  t?: { p: string; usd: string; tok: number; hUsd: string; hTok: number; at: string };
}

/** Sorted keys and a fixed field order: an unchanged report is an unchanged string. */
export function encodeBudgetReport(report: BudgetReport): string {
  const budgets: Record<string, WireEntry> = {};
  for (const name of Object.keys(report.budgets).sort().slice(0, MAX_BUDGETS)) {
    const e = report.budgets[name];
    if (e === undefined) continue;
    budgets[name] = {
      p: e.periodStart,
      usd: moneyText(e.spent.picoUsd),
      tok: e.spent.tokens,
      hUsd: moneyText(e.held.picoUsd),
      hTok: e.held.tokens,
      ...(e.keys === undefined
        ? {}
        : {
            keys: e.keys
              .slice(0, MAX_REPORTED_KEYS)
              .map((k): [string, string, number] => [k.key, moneyText(k.picoUsd), k.tokens]),
          }),
      ...(e.others === undefined
        ? {}
        : { oUsd: moneyText(e.others.picoUsd), oTok: e.others.tokens }),
      ...(e.team === undefined ? {} : { t: teamWire(e.team) }),
    };
  }
  return JSON.stringify({ source: report.source, budgets });
}

function teamWire(t: TeamAccountRead): NonNullable<WireEntry['t']> {
  return {
    p: t.periodStart,
    usd: moneyText(t.spent.picoUsd),
    tok: t.spent.tokens,
    hUsd: moneyText(t.held.picoUsd),
    hTok: t.held.tokens,
    at: t.readAt,
  };
}

const PICO = /^[0-9]{1,30}$/;
const pico = (v: unknown): bigint | undefined =>
  typeof v === 'string' && PICO.test(v) ? BigInt(v) : undefined;
const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;

function amount(usd: unknown, tok: unknown): ReportedAmount | undefined {
  const p = pico(usd);
  const t = count(tok);
  return p === undefined || t === undefined ? undefined : { picoUsd: p, tokens: t };
}

function readKeys(raw: unknown): ReportedKeySpend[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const keys: ReportedKeySpend[] = [];
  for (const item of raw.slice(0, MAX_REPORTED_KEYS) as unknown[]) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || item[0].length > 64) continue;
    const a = amount(item[1], item[2]);
    if (a !== undefined) keys.push({ key: item[0], ...a });
  }
  return keys;
}

const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

function readTeam(raw: unknown): TeamAccountRead | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const t = raw as Record<string, unknown>;
  if (!isTime(t.p) || !isTime(t.at)) return undefined;
  const spent = amount(t.usd, t.tok);
  const held = amount(t.hUsd, t.hTok);
  if (spent === undefined || held === undefined) return undefined;
  return { periodStart: t.p, readAt: t.at, spent, held };
}

function readEntry(raw: Readonly<Record<string, unknown>>): BudgetReportEntry | undefined {
  if (!isTime(raw.p)) return undefined;
  const spent = amount(raw.usd, raw.tok);
  const held = amount(raw.hUsd, raw.hTok);
  if (spent === undefined || held === undefined) return undefined;
  const keys = readKeys(raw.keys);
  const others = raw.oUsd === undefined ? undefined : amount(raw.oUsd, raw.oTok);
  const team = readTeam(raw.t);
  return {
    periodStart: raw.p,
    spent,
    held,
    ...(keys === undefined ? {} : { keys }),
    ...(others === undefined ? {} : { others }),
    ...(team === undefined ? {} : { team }),
  };
}

/** Reads an annotation value; a malformed budget is skipped, a malformed report is none. */
export function decodeBudgetReport(value: string | undefined): BudgetReport | undefined {
  const r = readReportObject(value);
  if (r === undefined) return undefined;
  if (r.source !== 'replica' && r.source !== 'store') return undefined;
  if (!isReportObject(r.budgets)) return undefined;
  const budgets: Record<string, BudgetReportEntry> = {};
  for (const [name, raw] of Object.entries(r.budgets as Record<string, unknown>).slice(
    0,
    MAX_BUDGETS,
  )) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
    const entry = readEntry(raw as Record<string, unknown>);
    if (entry !== undefined) budgets[name] = entry;
  }
  return { source: r.source, budgets };
}

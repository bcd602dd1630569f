/**
 * The `breakwater.dev/provider-headroom` pod annotation: how much of the provider's quota each
 * backend had left when this replica last heard from it, from the `anthropic-ratelimit-*`
 * response headers and 429s. A sibling of the breaker annotation rather than part of it, so
 * either can change without the other; optional: a pod without it reports nothing, and the
 * operator then holds nothing.
 *
 *   {"default":{"ratio":0.12,"limitedBy":"requests","resetAt":"2026-11-22T19:01:00Z","observedAt":"…"}}
 *
 * `ratio` is remaining ÷ limit of the tightest limit the provider reported (0 after a 429);
 * `resetAt` is when the provider said that limit is full again: past it, the ratio is stale
 * and the quota is whole again, with or without traffic.
 */
import { decodeKeyedReport, encodeKeyedReport } from './keyedReport.ts';

export const HEADROOM_ANNOTATION = 'breakwater.dev/provider-headroom';

export type HeadroomLimit =
  'requests' | 'tokens' | 'input-tokens' | 'output-tokens' | 'retry-after';

export interface HeadroomReportEntry {
  /** Remaining ÷ limit of the tightest limit, 0..1, two decimals. */
  readonly ratio: number;
  readonly limitedBy: HeadroomLimit;
  /** When that limit is whole again (RFC 3339). */
  readonly resetAt: string;
  /** When the provider said so (RFC 3339). */
  readonly observedAt: string;
}

/** By backend name. */
export type HeadroomReport = Readonly<Record<string, HeadroomReportEntry>>;

const LIMITS: readonly string[] = [
  'requests',
  'tokens',
  'input-tokens',
  'output-tokens',
  'retry-after',
];

export function encodeHeadroomReport(report: HeadroomReport): string {
  return encodeKeyedReport(report);
}

/** Reads an annotation value; anything malformed is skipped rather than trusted. */
export function decodeHeadroomReport(value: string | undefined): HeadroomReport {
  return decodeKeyedReport(value, (e): HeadroomReportEntry | undefined => {
    if (typeof e.ratio !== 'number' || !(e.ratio >= 0 && e.ratio <= 1)) return undefined;
    if (typeof e.limitedBy !== 'string' || !LIMITS.includes(e.limitedBy)) return undefined;
    if (typeof e.resetAt !== 'string' || Number.isNaN(Date.parse(e.resetAt))) return undefined;
    if (typeof e.observedAt !== 'string' || Number.isNaN(Date.parse(e.observedAt)))
      return undefined;
    return {
      ratio: e.ratio,
      limitedBy: e.limitedBy as HeadroomLimit,
      resetAt: e.resetAt,
      observedAt: e.observedAt,
    };
  });
}

/**
 * The agent's headroom at `nowMs` over its replicas' reports: per backend the newest report
 * wins (every replica draws on the same quota, and the provider's latest word is the truth);
 * a report whose `resetAt` has passed counts as whole again. The agent's headroom is its
 * tightest backend's. Undefined when no replica has reported a live limit.
 */
export interface AgentHeadroom {
  readonly ratio: number;
  readonly backend: string;
  readonly limitedBy: HeadroomLimit;
  /** When this low point is over by the provider's word (epoch ms). */
  readonly resetAtMs: number;
}

export function agentHeadroom(
  reports: readonly HeadroomReport[],
  nowMs: number,
): AgentHeadroom | undefined {
  const newest = new Map<string, HeadroomReportEntry>();
  for (const report of reports) {
    for (const [backend, entry] of Object.entries(report)) {
      const seen = newest.get(backend);
      if (seen === undefined || Date.parse(entry.observedAt) > Date.parse(seen.observedAt))
        newest.set(backend, entry);
    }
  }
  let tightest: AgentHeadroom | undefined;
  for (const [backend, entry] of newest) {
    const resetAtMs = Date.parse(entry.resetAt);
    if (resetAtMs <= nowMs) continue;
    if (tightest === undefined || entry.ratio < tightest.ratio)
      tightest = { ratio: entry.ratio, backend, limitedBy: entry.limitedBy, resetAtMs };
  }
  return tightest;
}

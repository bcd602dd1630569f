/**
 * The demo's end: the summary table, the policies' lines, what was lost, and the one line for
 * scripts and tests (summary.ts); non-zero when the demo did not go as it should.
 */
import { BREAKER_POLICY_NAME, RATE_LIMIT_POLICY_NAME } from './demoLayout.ts';
import type { Display } from './display.ts';
import type { ReloadTiming } from './reloadTiming.ts';
import { resultLine, summaryTable, type DemoResult, type PhaseRow } from './summary.ts';
import type { Tally } from './traffic.ts';

export interface ScenarioResult {
  readonly phases: readonly PhaseRow[];
  readonly total: Tally;
  readonly trips: number;
  readonly reload: ReloadTiming;
  readonly notes: readonly string[];
}

export function report(
  result: ScenarioResult,
  display: Display,
  run: { readonly realApi: boolean; readonly clientTimeoutMs: number },
): number {
  const { total } = result;
  const { realApi, clientTimeoutMs } = run;
  display.line('');
  display.line('Summary');
  display.block(summaryTable(result.phases, total), '  ');
  display.line('');
  display.line(
    `  ${BREAKER_POLICY_NAME}: ${result.trips} trips across the replicas' breakers (status.trips)`,
  );
  display.line(
    `  ${RATE_LIMIT_POLICY_NAME}: edit live on ${result.reload.replicas}/${result.reload.replicas} replicas in ${result.reload.ms} ms`,
  );
  display.line(
    `  lost: ${total.lost} (no answer, or none within ${clientTimeoutMs / 1000}s); ` +
      `answers by status: ${describeStatuses(total)}`,
  );
  for (const note of result.notes) display.line(`  ${note}`);
  const line: DemoResult = {
    requests: total.requests,
    ok: total.ok,
    failedFast: total.failedFast,
    rejected: total.rejected,
    lost: total.lost,
    trips: result.trips,
    reloadMs: result.reload.ms,
  };
  const problems = [
    ...(total.lost > 0 ? [`${total.lost} requests were lost`] : []),
    ...(!realApi && result.trips === 0 ? ['the breaker never opened'] : []),
  ];
  if (problems.length > 0)
    display.line(`  The demo did not go as it should: ${problems.join('; ')}.`);
  display.line('');
  display.line(resultLine(line));
  return problems.length > 0 ? 1 : 0;
}

function describeStatuses(tally: Tally): string {
  const entries = Object.entries(tally.byStatus).sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([status, n]) => `${status}×${n}`).join(' ') || 'none';
}

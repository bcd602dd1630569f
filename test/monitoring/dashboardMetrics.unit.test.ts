/**
 * Every metric the Grafana dashboard reads is one Breakwater has: a runtime family the
 * runtime's registries declare (histogram series by their `_bucket`, `_sum`, `_count`), or an
 * operator metric docs/monitoring.md lists. Pure: the dashboard and the doc read from disk, the
 * runtime's metric classes built in memory. promtool.test.ts holds the same names to live
 * scrapes, in the integration project; this catches a misspelt name on every unit run.
 */
import { describe, expect, it } from '@jest/globals';
import { DurableMetrics } from '../../runtime/src/durable/durableMetrics.ts';
import { GuardMetrics } from '../../runtime/src/guard/metrics.ts';
import { RuntimeMetrics } from '../../runtime/src/telemetry/runtimeMetrics.ts';
import { codeSpans, MONITORING_DOC, readDoc, tableUnder } from './monitoringDoc.ts';
import { dashboardExpressions, isExported, metricNamesIn, readDashboard } from './promtool.ts';

/** The runtime's families as agentRuntime.ts registers them, name → type. */
function runtimeFamilies(): Map<string, string> {
  const metrics = new RuntimeMetrics(undefined, { defaults: false });
  new GuardMetrics(metrics.registry);
  new DurableMetrics(metrics.registry);
  return new Map(
    metrics.registry.getMetricsAsArray().map((m) => {
      const { name, type } = m as unknown as { name: string; type: string };
      return [name, type] as const;
    }),
  );
}

const used = [
  ...new Set(dashboardExpressions(readDashboard()).flatMap((e) => [...metricNamesIn(e)])),
].sort();

describe('the metrics the Grafana dashboard reads', () => {
  it('are each one the runtime registers, or an operator metric docs/monitoring.md lists', () => {
    const families = runtimeFamilies();
    // The operator's families as the doc's table types them (its scrape needs the cluster).
    const operator = new Map(
      tableUnder(readDoc(MONITORING_DOC), 'Operator metrics').flatMap(([name = '', type = '']) =>
        codeSpans(name).map((n) => [n, type] as const),
      ),
    );
    expect(used.length).toBeGreaterThan(20);
    expect(
      used.filter(
        (name) => !isExported(name, name.startsWith('breakwater_operator_') ? operator : families),
      ),
    ).toEqual([]);
  });

  it('include the GenAI row’s: token usage, operation duration, time to first token, errors', () => {
    expect(used).toEqual(
      expect.arrayContaining([
        'gen_ai_client_token_usage_sum',
        'gen_ai_client_operation_duration_seconds_bucket',
        'gen_ai_client_operation_duration_seconds_count',
        'gen_ai_server_time_to_first_token_seconds_bucket',
      ]),
    );
  });

  it.each([
    [
      'a label list',
      'sum by (gen_ai_request_model, le) (rate(gen_ai_x_bucket[2m]))',
      ['gen_ai_x_bucket'],
    ],
    ['a label matcher', 'rate(agent_x_total{gen_ai_token_type="input"}[2m])', ['agent_x_total']],
    ['a vector match', 'agent_a * ignoring (gen_ai_b) agent_c', ['agent_a', 'agent_c']],
  ])('reads no label name in %s as a metric', (_, expr, names) => {
    expect([...metricNamesIn(expr)].sort()).toEqual(names);
  });
});

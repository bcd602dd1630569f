/** The demo's pure parts: how a request is counted, the result line, the Prometheus config. */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prometheusConfig } from '../../demo/prometheus.ts';
import { median, parseResultLine, resultLine, summaryTable } from '../../demo/summary.ts';
import { classify, emptyTally } from '../../demo/traffic.ts';

describe('a demo request is counted', () => {
  it.each([
    ['a 200 as ok', 200, 40, 'ok'],
    ['a 429 as rejected', 429, 3, 'rejected'],
    ['a 503 within 500 ms as failed fast', 503, 4, 'failedFast'],
    ['a 504 within 500 ms as failed fast', 504, 120, 'failedFast'],
    ['a 503 that took seconds as failed, not fast', 503, 2_500, 'failed'],
    ['a 502 as failed', 502, 30, 'failed'],
    ['no answer at all as lost', undefined, 15_000, 'lost'],
  ] as const)('%s', (_name, status, ms, outcome) => {
    expect(classify(status, ms, 500)).toBe(outcome);
  });
});

describe('the result line', () => {
  const result = {
    requests: 412,
    ok: 300,
    failedFast: 70,
    rejected: 30,
    lost: 0,
    trips: 6,
    reloadMs: 143,
  };

  it('reads back as it was written', () => {
    expect(resultLine(result)).toBe(
      'demo: requests=412 ok=300 failed_fast=70 rejected=30 lost=0 trips=6 reload_ms=143',
    );
    expect(parseResultLine(resultLine(result))).toEqual(result);
  });

  it.each([
    ['a summary row', '  total   412  300'],
    [
      'a line with a field missing',
      'demo: requests=1 ok=1 failed_fast=0 rejected=0 lost=0 trips=0',
    ],
    ['an interrupted run', 'demo: interrupted'],
  ])('is not mistaken for %s', (_name, line) => {
    expect(parseResultLine(line)).toBeUndefined();
  });
});

describe('the summary table', () => {
  it('has a row per phase and a total, with medians', () => {
    const steady = emptyTally();
    steady.requests = 3;
    steady.ok = 3;
    steady.latencies.ok.push(5, 7, 40);
    const table = summaryTable([{ name: 'steady', tally: steady }], steady);
    const rows = table.split('\n');
    expect(rows[0]).toMatch(/^phase\s+requests\s+ok/);
    expect(rows.find((r) => r.startsWith('steady'))).toMatch(/^steady\s+3\s+3\s.*7\.0 ms\s+-$/);
    expect(rows.at(-1)).toMatch(/^total\s+3\s+3\s/);
  });

  it.each([
    [[], undefined],
    [[9], 9],
    [[30, 10, 20], 20],
    // The one median (tools/stats/samples.ts): the mean of the two middle samples.
    [[1, 2, 3, 4], 2.5],
  ])('takes the median of %j as %s', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

const promtool = spawnSync('promtool', ['--version']).status === 0;

describe('the Prometheus configuration of make up PROMETHEUS=1', () => {
  (promtool ? it : it.skip)('passes promtool check config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-demo-prom-'));
    const targets = join(dir, 'agent-targets.json');
    writeFileSync(targets, '[]\n');
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      prometheusConfig({
        operatorMetrics: 'http://127.0.0.1:18080/metrics',
        targetsFile: targets,
        ruleFiles: [],
      }),
    );
    const check = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(`${check.stdout}${check.stderr}`).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });
});

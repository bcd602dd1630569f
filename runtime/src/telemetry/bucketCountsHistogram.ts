import { Histogram, type Registry } from 'prom-client';
import type { BucketCounts } from './bucketCounts.ts';

interface HistogramSource {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: BucketCounts;
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
}

/**
 * A prom-client Histogram whose data lives in BucketCounts owned elsewhere. prom-client's
 * registry reads histograms through `getForPromString()` (and `get()` through it too), so
 * that is the one method replaced; names, help, registration and aggregation stay
 * prom-client's. tally.test.ts scrapes it beside a prom-client Histogram, as text and as
 * JSON, to keep this honest across upgrades.
 */
export class BucketCountsHistogram extends Histogram {
  readonly #name: string;
  readonly #help: string;
  readonly #sources: () => Iterable<HistogramSource>;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelNames: string[],
    buckets: readonly number[],
    sources: () => Iterable<HistogramSource>,
  ) {
    super({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
    this.#name = name;
    this.#help = help;
    this.#sources = sources;
  }

  getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: ExportedValue[];
  }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const { labels, counts } of this.#sources()) {
      let cumulative = 0;
      counts.bounds.forEach((bound, i) => {
        cumulative += counts.counts[i] ?? 0;
        values.push({
          labels: { le: round(bound) },
          sharedLabels: labels,
          value: cumulative,
          metricName: bucket,
        });
      });
      values.push({
        labels: { le: '+Inf' },
        sharedLabels: labels,
        value: counts.count,
        metricName: bucket,
      });
      values.push({
        labels: {},
        sharedLabels: labels,
        value: counts.sum,
        metricName: `${this.#name}_sum`,
      });
      values.push({
        labels: {},
        sharedLabels: labels,
        value: counts.count,
        metricName: `${this.#name}_count`,
      });
    }
    return Promise.resolve({
      name: this.#name,
      help: this.#help,
      type: 'histogram',
      aggregator: 'sum',
      values,
    });
  }
}

function round(n: number): number {
  return Math.round(n * 1e9) / 1e9;
}

/**
 * Counters and histograms for the request path. They take prom-client's calls
 * (`inc(labels)`, `observe(labels, value)`) but count in plain maps, one level per label,
 * and hand their series to prom-client only when Prometheus scrapes. prom-client hashes and
 * validates the label object on every call, which on the Messages pass-through cost more
 * than the guard (bench/results/runtime.json); here a call is a few map lookups and an add.
 *
 * Label values on this path come from callers (the model a request names), so the number of
 * series is bounded: past `MAX_SERIES`, new combinations are counted under `OVERFLOW_VALUE`
 * in every label, and the total stays right.
 */
import { Counter, type Registry } from 'prom-client';
import { BucketCounts } from './bucketCounts.ts';
import { BucketCountsHistogram } from './bucketCountsHistogram.ts';

export const MAX_SERIES = 1000;
export const OVERFLOW_VALUE = '_other';

export interface Series<T> {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: T;
}

type Level<T> = Map<string, Level<T> | Series<T>>;

/** Series by label values, one map level per label name, in the order the names are given. */
class SeriesMap<L extends string, T> {
  readonly #names: readonly L[];
  readonly #make: () => T;
  readonly #root: Level<T> = new Map();
  readonly #all: Series<T>[] = [];
  #overflow: Series<T> | undefined;

  constructor(names: readonly L[], make: () => T) {
    this.#names = names;
    this.#make = make;
  }

  get(labels: Readonly<Record<L, string>>): T {
    const names = this.#names;
    let level = this.#root;
    for (let i = 0; i < names.length - 1; i++) {
      const value = labels[names[i] as L];
      let next = level.get(value) as Level<T> | undefined;
      if (next === undefined) {
        if (this.#all.length >= MAX_SERIES) return this.#overflowSeries().value;
        level.set(value, (next = new Map()));
      }
      level = next;
    }
    const last = labels[names[names.length - 1] as L];
    let series = level.get(last) as Series<T> | undefined;
    if (series === undefined) {
      if (this.#all.length >= MAX_SERIES) return this.#overflowSeries().value;
      series = { labels: pick(labels, names), value: this.#make() };
      level.set(last, series);
      this.#all.push(series);
    }
    return series.value;
  }

  series(): readonly Series<T>[] {
    return this.#overflow === undefined ? this.#all : [...this.#all, this.#overflow];
  }

  #overflowSeries(): Series<T> {
    if (this.#overflow === undefined) {
      const labels: Record<string, string> = {};
      for (const name of this.#names) labels[name] = OVERFLOW_VALUE;
      this.#overflow = { labels, value: this.#make() };
    }
    return this.#overflow;
  }
}

function pick<L extends string>(
  labels: Readonly<Record<L, string>>,
  names: readonly L[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) out[name] = labels[name];
  return out;
}

export interface TallyOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers: readonly Registry[];
}

export class TallyCounter<L extends string> {
  readonly #series: SeriesMap<L, { n: number }>;

  constructor({ name, help, labelNames, registers }: TallyOptions<L>) {
    if (labelNames.length === 0) throw new Error(`${name}: a tally needs at least one label`);
    const series = (this.#series = new SeriesMap(labelNames, () => ({ n: 0 })));
    new Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers: [...registers],
      collect() {
        this.reset();
        for (const s of series.series())
          this.inc(s.labels as Partial<Record<L, string>>, s.value.n);
      },
    });
  }

  inc(labels: Readonly<Record<L, string>>, value = 1): void {
    this.#series.get(labels).n += value;
  }
}

export class TallyHistogram<L extends string> {
  readonly #series: SeriesMap<L, BucketCounts>;

  constructor({
    name,
    help,
    labelNames,
    registers,
    buckets,
  }: TallyOptions<L> & { readonly buckets: readonly number[] }) {
    if (labelNames.length === 0) throw new Error(`${name}: a tally needs at least one label`);
    const bounds = Object.freeze([...buckets]);
    const series = (this.#series = new SeriesMap(labelNames, () => new BucketCounts(bounds)));
    for (const registry of registers) {
      new BucketCountsHistogram(registry, name, help, [...labelNames], bounds, () =>
        series.series().map((s) => ({ labels: s.labels, counts: s.value })),
      );
    }
  }

  observe(labels: Readonly<Record<L, string>>, value: number): void {
    this.#series.get(labels).observe(value);
  }

  /**
   * The counts `labels` observe into, made if new (the overflow series' past MAX_SERIES): for
   * a caller that observes into the same series again and again, found once.
   */
  seriesOf(labels: Readonly<Record<L, string>>): BucketCounts {
    return this.#series.get(labels);
  }

  /** Every series so far, with its counts: what an OTLP export reads (otlpMetrics.ts). */
  series(): readonly Series<BucketCounts>[] {
    return this.#series.series();
  }
}

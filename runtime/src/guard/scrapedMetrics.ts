/**
 * How the runtime's metrics stay off the hot path. Guard components keep plain counters; a
 * metric made here reads them at scrape time (`collect`), pushing each delta into label
 * children bound once per component. Even a bound prom-client child hashes its labels on
 * every `inc()`, which would cost more per call than a breaker itself. Always on a Registry
 * passed in, never the global one.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface CounterChild {
  inc(value: number): void;
}

/** A counter child and the source value it last reported. */
export class Delta {
  readonly #child: CounterChild;
  #last = 0;

  constructor(child: CounterChild) {
    this.#child = child;
    // Exported as 0 from the start: rate() needs the series to exist before the first event.
    child.inc(0);
  }

  push(current: number): void {
    const delta = current - this.#last;
    if (delta > 0) this.#child.inc(delta);
    this.#last = current;
  }
}

/** Collect functions per metric, keyed by the component they read. */
type Collectors = Map<object, () => void>;

/** Metrics read from components at scrape time, and each component's binding to them. */
export class ScrapedMetrics {
  readonly #collectors = new Map<object, Collectors>();
  readonly #registry: Registry;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  counter<T extends string>(name: string, help: string, labelNames: T[]): Counter<T> {
    return this.#scraped(
      (collect) => new Counter({ ...this.#config(name, help, labelNames), collect }),
    );
  }

  gauge<T extends string>(name: string, help: string, labelNames: T[]): Gauge<T> {
    return this.#scraped(
      (collect) => new Gauge({ ...this.#config(name, help, labelNames), collect }),
    );
  }

  /** Reads `component` into `metric` at each scrape, until unbound. */
  on(metric: object, component: object, collect: () => void): void {
    this.#collectors.get(metric)?.set(component, collect);
  }

  /** Stops reading `component`; removes its series once, if it was bound. */
  unbinder(component: object, removeChildren: () => void): () => void {
    return () => {
      let bound = false;
      for (const collectors of this.#collectors.values())
        bound = collectors.delete(component) || bound;
      if (bound) removeChildren();
    };
  }

  #config<T extends string>(name: string, help: string, labelNames: T[]) {
    return { name, help, labelNames, registers: [this.#registry] };
  }

  /** A metric whose scrape runs the collect function of every component bound to it. */
  #scraped<M extends object>(make: (collect: () => void) => M): M {
    const collectors: Collectors = new Map();
    const metric = make(() => {
      for (const c of collectors.values()) c();
    });
    this.#collectors.set(metric, collectors);
    return metric;
  }
}

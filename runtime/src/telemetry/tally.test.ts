import { describe, expect, it } from '@jest/globals';
import { Counter, Histogram, Registry } from 'prom-client';
import { MAX_SERIES, OVERFLOW_VALUE, TallyCounter, TallyHistogram } from './tally.ts';

/** The sample lines of a scrape, without HELP/TYPE comments. */
async function samples(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

describe('TallyCounter', () => {
  it('scrapes exactly as a prom-client Counter fed the same calls', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyCounter({
      name: 'requests_total',
      help: 'h',
      labelNames: ['route', 'model'],
      registers: [ours],
    });
    const counter = new Counter({
      name: 'requests_total',
      help: 'h',
      labelNames: ['route', 'model'],
      registers: [theirs],
    });
    const calls: [Record<'route' | 'model', string>, number][] = [
      [{ route: '/v1/messages', model: 'a' }, 1],
      [{ route: '/v1/messages', model: 'b' }, 1],
      [{ route: '/v1/messages', model: 'a' }, 3],
      [{ route: '/v1/agent/invoke', model: 'a' }, 1],
    ];
    for (const [labels, n] of calls) {
      tally.inc(labels, n);
      counter.inc(labels, n);
    }
    expect((await samples(ours)).sort()).toEqual((await samples(theirs)).sort());
    expect(await samples(ours)).toContain('requests_total{route="/v1/messages",model="a"} 4');
    // The order of the keys in a call does not make another series.
    tally.inc({ model: 'b', route: '/v1/messages' });
    expect(await samples(ours)).toContain('requests_total{route="/v1/messages",model="b"} 2');
  });

  it('counts new label combinations past the series bound under one overflow series', async () => {
    const registry = new Registry();
    const tally = new TallyCounter({
      name: 'by_model_total',
      help: 'h',
      labelNames: ['model'],
      registers: [registry],
    });
    for (let i = 0; i < MAX_SERIES + 50; i++) tally.inc({ model: `m${String(i)}` });
    tally.inc({ model: 'm0' }); // an existing series still counts as itself
    const lines = await samples(registry);
    expect(lines).toHaveLength(MAX_SERIES + 1);
    expect(lines).toContain(`by_model_total{model="${OVERFLOW_VALUE}"} 50`);
    expect(lines).toContain('by_model_total{model="m0"} 2');
  });
});

describe('TallyHistogram', () => {
  it('scrapes exactly as a prom-client Histogram fed the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const buckets = [0.1, 1, 10];
    const tally = new TallyHistogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['model', 'outcome'],
      buckets,
      registers: [ours],
    });
    const histogram = new Histogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['model', 'outcome'],
      buckets,
      registers: [theirs],
    });
    const observations: [Record<'model' | 'outcome', string>, number][] = [
      [{ model: 'a', outcome: 'Success' }, 0.05],
      [{ model: 'a', outcome: 'Success' }, 0.1],
      [{ model: 'a', outcome: 'Success' }, 5],
      [{ model: 'a', outcome: 'Timeout' }, 30],
      [{ model: 'b', outcome: 'Success' }, 1],
    ];
    for (const [labels, value] of observations) {
      tally.observe(labels, value);
      histogram.observe(labels, value);
    }
    expect((await samples(ours)).sort()).toEqual((await samples(theirs)).sort());
  });

  it('reads the JSON form through prom-client too', async () => {
    const registry = new Registry();
    const histogram = { name: 'latency_seconds', help: 'h', buckets: [0.1, 1] };
    new TallyHistogram({ ...histogram, labelNames: ['model'], registers: [registry] }).observe(
      { model: 'a' },
      0.5,
    );
    const json = await registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === histogram.name)?.values).toContainEqual(
      expect.objectContaining({
        metricName: 'latency_seconds_count',
        value: 1,
        labels: { model: 'a' },
      }),
    );
  });
});

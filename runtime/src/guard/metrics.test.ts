import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { guardFixture, httpError, scripted } from './guardFixture.ts';
import { GuardMetrics } from './metrics.ts';

function line(text: string, series: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

function boundFixture() {
  const f = guardFixture({
    limiter: { requests: { perSecond: 2, burst: 2 } },
    bulkhead: { maxConcurrent: 4 },
    breaker: { failureThreshold: 2 },
  });
  const registry = new Registry();
  const metrics = new GuardMetrics(registry);
  const unbind = [
    metrics.bindBreaker(f.breaker()),
    metrics.bindLimiter(f.limiter as NonNullable<typeof f.limiter>),
    metrics.bindBulkhead(f.bulkhead as NonNullable<typeof f.bulkhead>),
    metrics.bindGuard(f.guard),
  ];
  return { ...f, registry, unbind };
}

describe('GuardMetrics', () => {
  it('exports breaker, limiter and bulkhead counters under the DESIGN names', async () => {
    const f = boundFixture();
    const s = scripted(f.clock, [529, 529, 'ok']);
    for (let i = 0; i < 3; i++) await f.guard.execute(s.fn).catch(() => undefined);
    const text = await f.registry.metrics();
    expect(line(text, 'circuit_breaker_failures_total{name="primary",class="Overloaded"}')).toBe(2);
    expect(line(text, 'circuit_breaker_requests_total{name="primary",outcome="failure"}')).toBe(2);
    expect(line(text, 'circuit_breaker_requests_total{name="primary",outcome="rejected"}')).toBe(1);
    expect(line(text, 'circuit_breaker_state{name="primary",state="open"}')).toBe(1);
    expect(line(text, 'circuit_breaker_state{name="primary",state="closed"}')).toBe(0);
    expect(line(text, 'circuit_breaker_shadow{name="primary"}')).toBe(0);
    expect(line(text, 'circuit_breaker_trips_total{name="primary"}')).toBe(1);
    expect(line(text, 'rate_limiter_requests_total{name="agent"}')).toBe(2);
    expect(line(text, 'bulkhead_active_requests{name="agent"}')).toBe(0);
    expect(line(text, 'bulkhead_queue_size{name="agent"}')).toBe(0);
  });

  it('says a breaker in Shadow mode is one, so that its open state pages no one', async () => {
    const f = guardFixture({ breaker: { failureThreshold: 2, mode: 'Shadow' } });
    const registry = new Registry();
    new GuardMetrics(registry).bindBreaker(f.breaker());
    const s = scripted(f.clock, [529, 529, 'ok']);
    for (let i = 0; i < 3; i++) await f.guard.execute(s.fn).catch(() => undefined);
    const text = await registry.metrics();
    expect(line(text, 'circuit_breaker_state{name="primary",state="open"}')).toBe(1);
    expect(line(text, 'circuit_breaker_shadow{name="primary"}')).toBe(1);
    expect(
      line(text, 'circuit_breaker_requests_total{name="primary",outcome="shadow_rejected"}'),
    ).toBe(1);
  });

  it('exports rejections by the limit that made them', async () => {
    const f = boundFixture();
    for (let i = 0; i < 3; i++)
      await f.guard.execute(() => Promise.resolve(1)).catch(() => undefined);
    const text = await f.registry.metrics();
    expect(line(text, 'rate_limiter_rejected_total{name="agent",reason="requests"}')).toBe(1);
    expect(line(text, 'rate_limiter_requests_total{name="agent"}')).toBe(3);
  });

  it('adds only what happened since the last scrape', async () => {
    const f = boundFixture();
    await f.guard.execute(() => Promise.resolve(1));
    await f.registry.metrics();
    const text = await f.registry.metrics();
    expect(line(text, 'circuit_breaker_requests_total{name="primary",outcome="success"}')).toBe(1);
  });

  it('exports series at 0 before anything happened', async () => {
    const text = await boundFixture().registry.metrics();
    expect(line(text, 'circuit_breaker_requests_total{name="primary",outcome="success"}')).toBe(0);
    expect(line(text, 'bulkhead_rejected_total{name="agent",reason="queue_full"}')).toBe(0);
  });

  it('exports guard retries and timeouts', async () => {
    const f = guardFixture({ guard: { retry: { maxAttempts: 2, initialDelayMs: 0 } } });
    const registry = new Registry();
    new GuardMetrics(registry).bindGuard(f.guard);
    const s = scripted(f.clock, [httpError(500), 'ok']);
    const call = f.guard.execute(s.fn);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    f.clock.advance(0);
    await call;
    expect(line(await registry.metrics(), 'guard_retries_total{name="agent"}')).toBe(1);
  });

  it('drops a component’s series when it is unbound', async () => {
    const f = boundFixture();
    for (const unbind of f.unbind) unbind();
    const text = await f.registry.metrics();
    expect(text).not.toContain('name="primary"');
    expect(text).not.toContain('name="agent"');
  });
});

import { describe, expect, it } from '@jest/globals';
import { FaultInjector } from './faultInjector.ts';
import type { FaultAction, FaultSpec } from './faultSpec.ts';
import { seededRandom } from '../../platform/src/random/random.ts';

const error500: FaultAction = {
  kind: 'error',
  status: 500,
  errorType: 'api_error',
  retryAfterSeconds: undefined,
  inStream: undefined,
};

const hang: FaultAction = { kind: 'hang', inStream: undefined };

function fault(spec: Partial<FaultSpec>): FaultSpec {
  return { action: error500, latencyMs: 0, rate: 1, count: undefined, ...spec };
}

function kinds(injector: FaultInjector, n: number): string[] {
  return Array.from({ length: n }, () => injector.decide().action.kind);
}

describe('FaultInjector', () => {
  it('injects nothing when no fault is active', () => {
    expect(new FaultInjector(seededRandom(1)).decide()).toEqual({
      action: { kind: 'none' },
      latencyMs: 0,
    });
  });

  it('retires a fault after it has fired count times', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ count: 2 }));
    expect(kinds(injector, 4)).toEqual(['error', 'error', 'none', 'none']);
    expect(injector.list()).toEqual([]);
  });

  it('fires a fault with a rate on a fraction of requests, the same fraction for the same seed', () => {
    const run = () => {
      const injector = new FaultInjector(seededRandom(42));
      injector.add(fault({ rate: 0.3 }));
      return kinds(injector, 1000);
    };
    const first = run();
    const fired = first.filter((k) => k === 'error').length;
    expect(fired).toBeGreaterThan(200);
    expect(fired).toBeLessThan(400);
    expect(run()).toEqual(first);
  });

  it('never fires a fault with rate 0', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ rate: 0 }));
    expect(kinds(injector, 50)).not.toContain('error');
  });

  it('adds up the latency of stacked faults and lets the first action decide', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ action: { kind: 'none' }, latencyMs: 100 }));
    injector.add(fault({ action: hang, latencyMs: 20, count: 1 }));
    injector.add(fault({ latencyMs: 3 }));
    expect(injector.decide()).toEqual({ action: hang, latencyMs: 120 });
    expect(injector.decide()).toEqual({ action: error500, latencyMs: 103 });
  });

  it('applies a fault for one model only to requests for that model, and counts only those', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ model: 'claude-sonnet-5-5', count: 2 }));
    expect(injector.needsModel).toBe(true);
    const models = ['claude-haiku-5-5', 'claude-sonnet-5-5', undefined, 'claude-sonnet-5-5'];
    expect(models.map((m) => injector.decide(m).action.kind)).toEqual([
      'none',
      'error',
      'none',
      'error',
    ]);
    expect(injector.list()).toEqual([]);
    expect(injector.needsModel).toBe(false);
  });

  it('lets a fault for every model and one for a single model stack', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ action: { kind: 'none' }, latencyMs: 100 }));
    injector.add(fault({ model: 'claude-sonnet-5-5' }));
    expect(injector.decide('claude-haiku-5-5')).toEqual({
      action: { kind: 'none' },
      latencyMs: 100,
    });
    expect(injector.decide('claude-sonnet-5-5')).toEqual({ action: error500, latencyMs: 100 });
  });

  it('lists active faults with ids and how often each has fired, and clears them', () => {
    const injector = new FaultInjector(seededRandom(1));
    injector.add(fault({ count: 5 }));
    injector.add(
      fault({ action: { kind: 'drop', inStream: undefined, plain: 'before-response' } }),
    );
    injector.decide();
    expect(injector.list().map(({ id, fired }) => ({ id, fired }))).toEqual([
      { id: 1, fired: 1 },
      { id: 2, fired: 0 },
    ]);
    expect(injector.clear()).toBe(2);
    expect(injector.list()).toEqual([]);
  });
});

describe('FaultInjector, per provider', () => {
  const throttleBedrock = (): FaultSpec => ({
    action: {
      kind: 'error',
      status: 429,
      errorType: 'rate_limit_error',
      retryAfterSeconds: 1,
      inStream: undefined,
    },
    latencyMs: 0,
    rate: 1,
    count: 2,
    provider: 'bedrock',
  });

  it('strikes only requests in its provider, and only they count toward its count', () => {
    const faults = new FaultInjector(seededRandom(1));
    faults.add(throttleBedrock());
    expect(faults.decide('claude', 'anthropic').action.kind).toBe('none');
    expect(faults.decide('claude', 'vertex').action.kind).toBe('none');
    expect(faults.decide('claude', 'bedrock').action.kind).toBe('error');
    expect(faults.list()[0]?.fired).toBe(1);
    expect(faults.decide('claude', 'bedrock').action.kind).toBe('error');
    expect(faults.decide('claude', 'bedrock').action.kind).toBe('none');
  });
});

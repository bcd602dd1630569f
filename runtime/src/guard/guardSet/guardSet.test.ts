import { describe, expect, it } from '@jest/globals';
import { anthropicClassifier, failureOf } from '../../provider/anthropic/errorClassification.ts';
import { Registry } from 'prom-client';
import { GuardMetrics } from '../metrics.ts';
import type {
  StoreSettings,
  PolicyDocument,
} from '../../../../contract/src/policy/policyDocument.ts';
import { samplePolicyDocument } from '../../../../contract/src/policy/policyFixtures.ts';
import { ManualClock } from '../../../../test/support/manualClock.ts';
import type { Backend } from '../../provider/backendPool.ts';
import { retiredBreakers, type BreakerTarget } from './breakerRetirement.ts';
import { BreakerLimitError, CircuitOpenError } from '../errors.ts';
import { mapErrorToHttp } from '../../provider/anthropic/httpMapping.ts';
import { MAX_BREAKERS } from './breakerRegistry.ts';
import { GuardSet } from './guardSet.ts';
import type { OpenStore } from './storeSlot.ts';
import type { StoreAdmission } from '../rateLimitStore.ts';
import type { StoreCounters } from '../../rateLimitStore/storeCounters.ts';
import type { StoreReport } from '../../../../contract/src/reporting/storeReport.ts';
import type { AttemptInfo } from './providerGuard.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

function policy(change: (doc: Mutable<PolicyDocument>) => void = () => undefined): PolicyDocument {
  const doc = structuredClone(samplePolicyDocument()) as Mutable<PolicyDocument>;
  doc.backends = [
    { name: 'east', baseURL: 'http://east', apiKeyEnv: 'K', weight: 1 },
    { name: 'west', baseURL: 'http://west', apiKeyEnv: 'K', weight: 1 },
  ];
  doc.model = { name: 'sonnet', fallbacks: ['haiku'], maxTokens: 64 };
  doc.tools = [
    { name: 'lookup', description: '', inputSchema: {}, url: 'http://tool', timeoutMs: 1_000 },
  ];
  doc.mcpServers = [
    {
      name: 'docs',
      url: 'http://docs',
      tools: ['search', 'fetch'],
      timeoutMs: 1_000,
      maxConcurrent: 2,
      onUnknownOutcome: 'Fail',
    },
  ];
  change(doc);
  return doc;
}

const model = (backend: string, m: string): readonly [string, BreakerTarget] => [
  `${backend}/${m}`,
  { kind: 'model', backend, model: m },
];
const tool = (name: string): readonly [string, BreakerTarget] => [
  `tool:${name}`,
  { kind: 'tool', tool: name },
];
const mcpTool = (server: string, name: string): readonly [string, BreakerTarget] => [
  `tool:${server}__${name}`,
  { kind: 'tool', tool: `${server}__${name}`, server },
];

describe('retiredBreakers', () => {
  const all = [
    model('east', 'sonnet'),
    model('west', 'sonnet'),
    model('east', 'haiku'),
    model('east', 'caller-chosen'),
    tool('lookup'),
    mcpTool('docs', 'search'),
    mcpTool('docs', 'fetch'),
  ];
  it.each<[string, (d: Mutable<PolicyDocument>) => void, string[]]>([
    ['retires nothing when the policy keeps every backend, model and tool', () => undefined, []],
    [
      'retires every model breaker of a backend the policy dropped',
      (d) => (d.backends = d.backends.filter((b) => b.name !== 'west')),
      ['west/sonnet'],
    ],
    [
      'retires a fallback model the policy no longer names',
      (d) => (d.model.fallbacks = []),
      ['east/haiku'],
    ],
    ['retires a tool the policy dropped', (d) => (d.tools = []), ['tool:lookup']],
    [
      "retires an MCP tool its server's allow-list no longer names",
      (d) => (d.mcpServers = (d.mcpServers ?? []).map((m) => ({ ...m, tools: ['search'] }))),
      ['tool:docs__fetch'],
    ],
    [
      'retires every tool of an MCP server the policy dropped',
      (d) => (d.mcpServers = []),
      ['tool:docs__search', 'tool:docs__fetch'],
    ],
    [
      'keeps a model only callers named, whatever the policy names',
      (d) => (d.model = { name: 'opus', fallbacks: ['sonnet', 'haiku'], maxTokens: 64 }),
      [],
    ],
  ])('%s', (_name, change, expected) => {
    expect(retiredBreakers(all, policy(), policy(change))).toEqual(expected);
  });
});

function backend(name: string): Backend {
  return {
    name,
    weight: 1,
    baseURL: `http://${name}`,
    apiKeyEnv: 'K',
    hasKey: true,
    inFlight: 0,
  } as Partial<Backend> as Backend;
}

async function seriesOf(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.includes(`name="${name}"`))
    .map((l) => l.slice(0, l.indexOf('{')));
}

describe('GuardSet', () => {
  it('holds the primary model’s breakers under an override before any call, on every backend', () => {
    const clock = new ManualClock(0);
    const forced = (state: 'ForcedOpen' | 'Auto') =>
      policy((d) => {
        d.circuitBreaker.override =
          state === 'Auto' ? { state } : { state, reason: 'INC-1', untilMs: 60_000 };
      });
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: forced('Auto'),
      clock,
    });
    expect(set.breakerSummary()).toEqual({});
    set.reconfigure(forced('ForcedOpen'));
    const summary = set.breakerSummary();
    expect(Object.keys(summary).sort()).toEqual(['east/sonnet', 'west/sonnet']);
    expect(summary['east/sonnet']?.state).toBe('ForcedOpen');
    expect(set.permits('west', 'sonnet')).toBe(false);
    // A fallback keeps serving: its breakers are not forced, nor made.
    expect(summary['east/haiku']).toBeUndefined();
  });

  it('exports a breaker once it is first used and removes its series when a reload drops its backend', async () => {
    const registry = new Registry();
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: policy(),
      clock,
      metrics: new GuardMetrics(registry),
    });
    const signal = new AbortController().signal;
    for (const b of ['east', 'west']) {
      await set.callModel(
        'sonnet',
        () => backend(b),
        () => Promise.resolve('ok'),
        signal,
      );
    }
    expect(new Set(await seriesOf(registry, 'west/sonnet'))).toEqual(
      new Set([
        'circuit_breaker_state',
        'circuit_breaker_shadow',
        'circuit_breaker_requests_total',
        'circuit_breaker_failures_total',
        'circuit_breaker_trips_total',
        'guard_retries_total',
        'guard_retry_budget_exhausted_total',
        'guard_timeouts_total',
      ]),
    );
    set.reconfigure(policy((d) => (d.backends = d.backends.filter((b) => b.name !== 'west'))));
    expect(await seriesOf(registry, 'west/sonnet')).toEqual([]);
    expect(await seriesOf(registry, 'east/sonnet')).toContain('circuit_breaker_state');
    expect(Object.keys(set.breakerSummary())).toEqual(['east/sonnet']);
  });

  it('exports the limiter and both bulkheads from the start', async () => {
    const registry = new Registry();
    new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: policy(),
      clock: new ManualClock(0),
      metrics: new GuardMetrics(registry),
    });
    const text = await registry.metrics();
    expect(text).toContain('rate_limiter_requests_total{name="support-agent"} 0');
    expect(text).toContain('rate_limiter_rejected_total{name="support-agent",reason="requests"} 0');
    expect(text).toContain('bulkhead_active_requests{name="support-agent/models"} 0');
    expect(text).toContain(
      'bulkhead_rejected_total{name="support-agent/tools",reason="queue_full"} 0',
    );
  });

  it.each([
    ['Enforce', 'runs one call and refuses the other', { running: 1, refused: 1, shadow: 0 }],
    [
      'Shadow',
      'runs both and counts the one Enforce would have refused',
      { running: 2, refused: 0, shadow: 1 },
    ],
  ] as const)('%s mode, one model call at once and no queue: %s', async (mode, _what, expected) => {
    const registry = new Registry();
    const doc = policy((d) => {
      d.rateLimit.concurrency = {
        replicaMaxConcurrent: 1,
        replicaMaxQueue: 0,
        queueTimeoutMs: 1_000,
      };
      d.rateLimit.mode = mode;
    });
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc,
      clock: new ManualClock(0),
      metrics: new GuardMetrics(registry),
    });
    const signal = new AbortController().signal;
    let running = 0;
    let finish = (): void => undefined;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const call = () =>
      set.callModel(
        'sonnet',
        () => backend('east'),
        async () => {
          running++;
          await finished;
          return 'ok';
        },
        signal,
      );
    const outcomes = Promise.allSettled([call(), call()]);
    await Promise.resolve();
    expect(running).toBe(expected.running);
    finish();
    const refused = (await outcomes).filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(expected.refused);
    expect(await registry.metrics()).toContain(
      `bulkhead_rejected_total{name="support-agent/models",reason="shadow"} ${String(expected.shadow)}`,
    );
  });

  it('hands each attempt the SDK options — no retries, the time left, the caller’s own signal', async () => {
    const clock = new ManualClock(0);
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: policy((d) => (d.timeoutMs = 5_000)),
      clock,
    });
    const signal = new AbortController().signal;
    let seen: AttemptInfo<Backend> | undefined;
    await set.callModel(
      'sonnet',
      () => backend('east'),
      (info) => {
        seen = info;
        return Promise.resolve('ok');
      },
      signal,
    );
    expect(seen?.request).toEqual({ maxRetries: 0, timeout: 5_000, signal });
  });

  it('refuses a breaker past the limit with its own error, not as an open breaker', async () => {
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: policy(
        (d) => (d.rateLimit.requests = { replicaPerSecond: 10_000, replicaBurst: 10_000 }),
      ),
      clock: new ManualClock(0),
    });
    const signal = new AbortController().signal;
    const call = (m: string) =>
      set.callModel(
        m,
        () => backend('east'),
        () => Promise.resolve('ok'),
        signal,
      );
    for (let i = 0; i < MAX_BREAKERS; i++) await call(`caller-chosen-${i}`);
    const refused = await call('one-too-many').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(BreakerLimitError);
    expect(refused).not.toBeInstanceOf(CircuitOpenError);
    expect(refused).toMatchObject({ code: 'BREAKER_LIMIT', breaker: 'east/one-too-many' });
    expect(mapErrorToHttp(refused, failureOf(refused, 0))).toMatchObject({
      status: 503,
      type: 'api_error',
      message: expect.stringContaining(`already keeps ${MAX_BREAKERS} breakers`),
    });
    expect(set.breakerSummary()['east/one-too-many']).toBeUndefined();
  });
});

describe('GuardSet with a rate-limit store', () => {
  class FakeStore implements OpenStore {
    readonly available = true;
    updates: StoreSettings[] = [];
    closed = false;
    readonly settings: StoreSettings;
    constructor(settings: StoreSettings) {
      this.settings = settings;
    }
    admit(): Promise<StoreAdmission | undefined> {
      return Promise.resolve({ waitMs: 0, reason: 'requests', charged: true });
    }
    settle(): void {}
    settleBudget(): void {}
    pause(): void {}
    servesConnection(s: StoreSettings): boolean {
      return s.redis.address === this.settings.redis.address;
    }
    update(s: StoreSettings): void {
      this.updates.push(s);
    }
    report(): StoreReport {
      return { state: 'Shared', since: 'T' };
    }
    counters(): StoreCounters {
      return {
        answered: 0,
        timedOut: 0,
        late: 0,
        errors: 0,
        fallbacks: 0,
        unacknowledged: 0,
        resent: 0,
        slowestAdmitMs: 0,
        slowestAdmitBySecond: [],
      };
    }
    close(): void {
      this.closed = true;
    }
  }
  const store = (address: string, perSecond: number): StoreSettings => ({
    redis: { address },
    waitBudgetMs: 5,
    keyPrefix: 'breakwater:{ns/p/a}',
    requests: { perSecond, burst: perSecond },
  });
  const withStore = (settings: StoreSettings | undefined) =>
    policy((doc) => {
      if (settings === undefined) delete doc.rateLimit.store;
      else doc.rateLimit.store = settings;
    });

  it('opens the store a policy names, updates it in place, reopens for another server, closes it when dropped', () => {
    const opened: FakeStore[] = [];
    let changes = 0;
    const set = new GuardSet<Backend>({
      classifier: anthropicClassifier,
      doc: withStore(store('redis-a:6379', 30)),
      clock: new ManualClock(0),
      openStore: (settings) => {
        const s = new FakeStore(settings);
        opened.push(s);
        return s;
      },
    });
    set.onBreakerChange(() => changes++);
    expect(set.storeReport()).toEqual({ state: 'Shared', since: 'T' });
    set.reconfigure(withStore(store('redis-a:6379', 60)));
    expect(opened).toHaveLength(1);
    expect(opened[0]?.updates.map((u) => u.requests?.perSecond)).toEqual([60]);
    set.reconfigure(withStore(store('redis-b:6379', 60)));
    expect(opened).toHaveLength(2);
    expect(opened[0]?.closed).toBe(true);
    set.reconfigure(withStore(undefined));
    expect(opened[1]?.closed).toBe(true);
    expect(set.storeReport()).toBeUndefined();
    expect(set.rateLimiter()).not.toHaveProperty('store');
    // Each open or close is a change the pod report must carry.
    expect(changes).toBe(2);
  });
});

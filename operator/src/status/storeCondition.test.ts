import { describe, expect, it } from '@jest/globals';
import type { RateLimitPolicy } from '../../../contract/src/api/resources.ts';
import {
  RATE_LIMIT_STORE_ANNOTATION,
  encodeStoreReport,
  type StoreReport,
} from '../../../contract/src/reporting/storeReport.ts';
import { computeRateLimitPolicyStatus } from './policyStatus.ts';
import { storeCondition } from './storeCondition.ts';
import type { PodView } from './views.ts';

const NOW = '2026-11-22T10:00:00.000Z';
const SINCE = '2026-11-22T09:59:00.000Z';

const policy = (store = true): RateLimitPolicy => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'RateLimitPolicy',
  metadata: { name: 'shared', namespace: 'ns', generation: 2 },
  spec: {
    requests: { perSecond: 30, burst: 30 },
    scope: 'Cluster',
    ...(store ? { store: { redis: { address: 'redis.infra.svc:6379' } } } : {}),
  },
});

const pod = (name: string, report: StoreReport | undefined, phase = 'Running'): PodView => ({
  metadata: {
    name,
    annotations:
      report === undefined ? {} : { [RATE_LIMIT_STORE_ANNOTATION]: encodeStoreReport(report) },
  },
  status: { phase },
});
const shared: StoreReport = { state: 'Shared', since: SINCE };
const fallback = (reason: StoreReport['reason'], message?: string): StoreReport => ({
  state: 'Fallback',
  ...(reason === undefined ? {} : { reason }),
  ...(message === undefined ? {} : { message }),
  since: SINCE,
});

describe('the StoreAvailable condition', () => {
  it.each([
    [
      'is True while every replica decides on the store',
      [pod('a', shared), pod('b', shared)],
      'True',
      'Shared',
      /2 replicas keep exact counters in redis.infra.svc:6379/,
    ],
    [
      'is Unknown until a running replica reports',
      [pod('a', undefined), pod('b', shared, 'Pending')],
      'Unknown',
      'NoReports',
      /no running replica/,
    ],
    [
      'is False when one replica falls back, naming the pod and what it saw',
      [pod('a', shared), pod('b', fallback('Unreachable', 'connect ECONNREFUSED'))],
      'False',
      'Unreachable',
      /1 of 2 replicas fall back to their per-replica share; .*address.*\(pod b: connect ECONNREFUSED\)/,
    ],
    [
      'names a wrong password before anything it explains',
      [
        pod('a', fallback('Unreachable')),
        pod('b', fallback('AuthenticationFailed', 'WRONGPASS invalid username-password pair')),
      ],
      'False',
      'AuthenticationFailed',
      /passwordSecretRef.*WRONGPASS/,
    ],
    [
      'points a slow store at the wait budget',
      [pod('a', fallback('Slow'))],
      'False',
      'Slow',
      /waitBudget/,
    ],
    [
      'does not count a replica that is still connecting',
      [pod('a', shared), pod('b', fallback('Connecting'))],
      'True',
      'Shared',
      /1 replicas keep/,
    ],
  ] as const)('%s', (_name, pods, status, reason, message) => {
    const condition = storeCondition(policy(), pods);
    expect(condition).toMatchObject({ type: 'StoreAvailable', status, reason });
    expect(condition?.message).toMatch(message);
  });

  it('on a cluster, says the node the pod names is replaced without a restart', () => {
    const onCluster: RateLimitPolicy = {
      ...policy(),
      spec: {
        ...policy().spec,
        store: { redis: { cluster: { addresses: ['redis-0.infra.svc:6379'] } } },
      },
    };
    const message = storeCondition(onCluster, [
      pod('a', fallback('Unreachable', '10.0.0.7:6379: connect ECONNREFUSED 10.0.0.7:6379')),
    ])?.message;
    expect(message).toMatch(
      /^1 of 1 replicas fall back to their per-replica share; a cluster node does not answer \(the pod's message names it\): .*once the cluster promotes its replica .*spec\.store\.redis\.cluster\.addresses.*\(pod a: 10\.0\.0\.7:6379: connect ECONNREFUSED 10\.0\.0\.7:6379\)$/,
    );
  });

  it('names the budgets when the policy keeps them in the store too', () => {
    const withBudgets: RateLimitPolicy = {
      ...policy(),
      spec: { ...policy().spec, budgets: [{ name: 'daily', period: 'Day', usd: '5' }] },
    };
    expect(storeCondition(withBudgets, [pod('a', shared)])?.message).toBe(
      '1 replicas keep exact counters and budgets in redis.infra.svc:6379',
    );
    expect(storeCondition(withBudgets, [pod('a', fallback('Slow'))])?.message).toMatch(
      /^1 of 1 replicas fall back to their per-replica share of the rate limits and budgets; /,
    );
  });

  it('says when a slow store still decides the budgets: their calls wait for it', () => {
    const withBudgets: RateLimitPolicy = {
      ...policy(),
      spec: { ...policy().spec, budgets: [{ name: 'daily', period: 'Day', usd: '5' }] },
    };
    const waiting: StoreReport = { ...fallback('Slow'), budgets: 'Store' };
    expect(storeCondition(withBudgets, [pod('a', waiting), pod('b', shared)])?.message).toMatch(
      /^1 of 2 replicas fall back to their per-replica share of the rate limits; their budgets still wait for the store \(up to 2 s a call\); /,
    );
    expect(
      storeCondition(withBudgets, [pod('a', waiting), pod('b', fallback('Unreachable'))])?.message,
    ).toMatch(
      /^2 of 2 replicas fall back to their per-replica share of the rate limits \(1 of the budgets too; /,
    );
    // Without budgets the place of budgets says nothing.
    expect(storeCondition(policy(), [pod('a', waiting)])?.message).toMatch(
      /^1 of 1 replicas fall back to their per-replica share; /,
    );
  });

  it('is not set for a policy without a store, and is removed when the store goes', () => {
    expect(storeCondition(policy(false), [pod('a', shared)])).toBeUndefined();
    const agent = {
      apiVersion: 'breakwater.dev/v1alpha1',
      kind: 'AgentDeployment',
      metadata: { name: 'agent', namespace: 'ns' },
      spec: { model: { name: 'm' }, provider: { apiKeySecretRef: { name: 's', key: 'k' } } },
    } as const;
    const { status: withStore } = computeRateLimitPolicyStatus(
      policy(),
      [{ agent, pods: [pod('a', fallback('Slow'))] }],
      NOW,
    );
    expect(withStore.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['StoreAvailable', 'False'],
    ]);
    const { status: without } = computeRateLimitPolicyStatus(
      { ...policy(false), status: withStore },
      [{ agent, pods: [pod('a', undefined)] }],
      NOW,
    );
    expect(without.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });
});

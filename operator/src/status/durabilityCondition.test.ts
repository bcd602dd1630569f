import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  encodeDurableReport,
  type DurableStoreReport,
} from '../../../contract/src/reporting/durableReport.ts';
import { durabilityCondition } from './durabilityCondition.ts';
import type { PodView } from './views.ts';

const SINCE = '2026-11-25T08:00:00.000Z';
const ADDRESS = 'redis.agents.svc:6379';

const agent = (durable = true): AgentDeployment =>
  ({
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name: 'triage', namespace: 'ns', generation: 1 },
    spec: {
      model: { name: 'claude-sonnet-5-5' },
      ...(durable
        ? {
            durability: {
              store: { redis: { address: ADDRESS } },
              encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
            },
          }
        : {}),
    },
  }) as AgentDeployment;

const pod = (name: string, store: DurableStoreReport | undefined, phase = 'Running'): PodView => ({
  metadata: {
    name,
    annotations:
      store === undefined
        ? {}
        : {
            [DURABLE_RUNS_ANNOTATION]: encodeDurableReport({
              active: 0,
              resumed: 0,
              diverged: 0,
              replayed: 0,
              store,
            }),
          },
  },
  status: { phase },
});
const up: DurableStoreReport = { state: 'Available', since: SINCE };
const down = (reason: DurableStoreReport['reason'], message: string): DurableStoreReport => ({
  state: 'Unavailable',
  ...(reason === undefined ? {} : { reason }),
  message,
  since: SINCE,
});

describe('DurabilityStoreAvailable', () => {
  it('is absent without spec.durability', () => {
    expect(durabilityCondition(agent(false), [pod('p1', up)])).toBeUndefined();
  });

  it.each<[string, PodView[], string, string, RegExp]>([
    [
      'is Unknown until a running replica reports',
      [pod('p1', undefined)],
      'Unknown',
      'NoReports',
      /no running replica/,
    ],
    [
      'ignores a replica that is still connecting',
      [pod('p1', { state: 'Connecting', since: SINCE })],
      'Unknown',
      'NoReports',
      new RegExp(ADDRESS),
    ],
    [
      'is True while every replica journals',
      [pod('p1', up), pod('p2', up)],
      'True',
      'Available',
      /2 replicas journal durable runs in redis\.agents\.svc:6379/,
    ],
    [
      'is False naming the address, the fix and a pod’s error while one cannot reach the store',
      [pod('p1', up), pod('p2', down('Unreachable', 'connect ECONNREFUSED 10.0.0.9:6379'))],
      'False',
      'Unreachable',
      /^1 of 2 replicas cannot journal runs in redis\.agents\.svc:6379: their calls go on live and unjournaled; .*spec\.durability\.store\.redis\.address.*\(pod p2: connect ECONNREFUSED 10\.0\.0\.9:6379\)$/,
    ],
    [
      'prefers an unreadable key to an unreachable store',
      [pod('p1', down('Unreachable', 'refused')), pod('p2', down('KeyUnreadable', 'ENOENT key'))],
      'False',
      'KeyUnreadable',
      /encryptionKeySecretRef.*\(pod p2: ENOENT key\)/,
    ],
    [
      'leaves out pods that do not run',
      [pod('p1', up), pod('p2', down('StoreError', 'x'), 'Pending')],
      'True',
      'Available',
      /1 replicas/,
    ],
  ])('%s', (_name, pods, status, reason, message) => {
    const condition = durabilityCondition(agent(), pods);
    expect(condition).toMatchObject({ type: 'DurabilityStoreAvailable', status, reason });
    expect(condition?.message).toMatch(message);
  });

  it('on a cluster, says the node the pod names is replaced without a restart', () => {
    const onCluster = structuredClone(agent());
    const durability = onCluster.spec.durability;
    if (durability === undefined) throw new Error('no durability');
    durability.store = { redis: { cluster: { addresses: ['redis-0.agents.svc:6379'] } } };
    const message = durabilityCondition(onCluster, [
      pod('p1', down('Unreachable', '10.0.0.7:6379: connect ECONNREFUSED 10.0.0.7:6379')),
    ])?.message;
    expect(message).toMatch(
      /^1 of 1 replicas cannot journal runs in the cluster at redis-0\.agents\.svc:6379: their calls go on live and unjournaled; a cluster node does not answer .*once the cluster promotes its replica .*spec\.durability\.store\.redis\.cluster\.addresses.*\(pod p1: 10\.0\.0\.7:6379: connect ECONNREFUSED 10\.0\.0\.7:6379\)$/,
    );
  });
});

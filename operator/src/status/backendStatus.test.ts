import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, Backend } from '../../../contract/src/api/resources.ts';
import type {
  BreakerReport,
  ReportedBreakerState,
} from '../../../contract/src/reporting/breakerReport.ts';
import { backendStatuses, backendSummary } from './backendStatus.ts';
import { statusAgent } from './statusFixtures.ts';

const agentWith = (backends: Backend[] | undefined): AgentDeployment =>
  statusAgent(backends === undefined ? {} : { backends });

const agent = agentWith([
  { name: 'anthropic', baseURL: 'https://api.anthropic.com' },
  { name: 'bedrock-us', type: 'Bedrock', region: 'us-east-1', models: { m: 'anthropic.m-v1:0' } },
]);

/** One replica's report: breaker name → state. */
const replica = (breakers: Record<string, ReportedBreakerState>): BreakerReport =>
  Object.fromEntries(
    Object.entries(breakers).map(([name, state]) => [
      name,
      { state, since: '2026-11-23T07:00:00Z', trips: 0 },
    ]),
  );

describe('backendStatuses', () => {
  it('shows a backend Open on every replica while the next one serves', () => {
    const report = replica({ 'anthropic/m': 'Open', 'bedrock-us/m': 'Closed' });
    expect(backendStatuses(agent, [report, report, report])).toEqual([
      { name: 'anthropic', type: 'Anthropic', state: 'Open', openReplicas: 3, replicas: 3 },
      { name: 'bedrock-us', type: 'Bedrock', state: 'Closed', openReplicas: 0, replicas: 3 },
    ]);
  });

  it.each<[string, (BreakerReport | undefined)[], string, number]>([
    [
      'is Open on a replica when any one of its model breakers is',
      [replica({ 'anthropic/m': 'Closed', 'anthropic/fallback': 'Open' })],
      'Open',
      1,
    ],
    ['counts a forced-open breaker as open', [replica({ 'anthropic/m': 'ForcedOpen' })], 'Open', 1],
    [
      'is Degraded when open on some replicas only',
      [replica({ 'anthropic/m': 'Open' }), replica({ 'anthropic/m': 'Closed' })],
      'Degraded',
      1,
    ],
    ['is HalfOpen while one probes', [replica({ 'anthropic/m': 'HalfOpen' })], 'HalfOpen', 0],
    [
      'ignores another backend whose name it begins with',
      [replica({ 'anthropic-eu/m': 'Open' })],
      'Closed',
      0,
    ],
    ['ignores tool breakers', [replica({ 'tool:anthropic': 'Open' })], 'Closed', 0],
    ['is Closed on a replica that reported no breaker of it yet', [replica({})], 'Closed', 0],
    ['is Unknown while no replica has reported', [undefined, undefined], 'Unknown', 0],
  ])('%s', (_name, reports, state, openReplicas) => {
    expect(backendStatuses(agent, reports)?.[0]).toMatchObject({
      name: 'anthropic',
      state,
      openReplicas,
      replicas: reports.length,
    });
  });

  it('is absent without spec.backends, where breaker speaks for the one provider', () => {
    expect(backendStatuses(agentWith(undefined), [replica({ 'default/m': 'Open' })])).toBe(
      undefined,
    );
  });

  it('lists every backend, Closed with no replica running', () => {
    expect(backendStatuses(agent, [])?.map((b) => [b.name, b.state, b.replicas])).toEqual([
      ['anthropic', 'Closed', 0],
      ['bedrock-us', 'Closed', 0],
    ]);
  });
});

describe('backendSummary', () => {
  it('reads as name, state and open over running replicas', () => {
    expect(
      backendSummary([
        { name: 'anthropic', type: 'Anthropic', state: 'Open', openReplicas: 3, replicas: 3 },
        { name: 'bedrock-us', type: 'Bedrock', state: 'Closed', openReplicas: 0, replicas: 3 },
      ]),
    ).toBe('anthropic Open 3/3, bedrock-us Closed 0/3');
  });
});

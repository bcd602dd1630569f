import { describe, expect, it } from '@jest/globals';
import type { BreakerReport } from '../../../contract/src/reporting/breakerReport.ts';
import { aggregateReplicas, summarizeReplica, type ReplicaState } from './breakerAggregation.ts';

const at = (minute: number): string => new Date(Date.UTC(2026, 10, 21, 10, minute)).toISOString();

describe('summarizeReplica', () => {
  it.each<[string, BreakerReport | undefined, ReplicaState]>([
    ['a replica that has not reported is unknown, not closed', undefined, 'Unknown'],
    ['a replica that reported no breaker yet is closed', {}, 'Closed'],
    [
      'one open provider breaker makes the replica open',
      {
        'a/m1': { state: 'Open', since: at(1), trips: 1 },
        'a/m2': { state: 'Closed', since: at(0), trips: 0 },
      },
      'Open',
    ],
    [
      'a forced-open breaker counts as open',
      { 'a/m1': { state: 'ForcedOpen', since: at(1), trips: 0 } },
      'Open',
    ],
    [
      'a half-open breaker makes the replica half-open',
      { 'a/m1': { state: 'HalfOpen', since: at(1), trips: 1 } },
      'HalfOpen',
    ],
    [
      'an open tool breaker leaves the replica closed',
      { 'tool:search': { state: 'Open', since: at(1), trips: 4 } },
      'Closed',
    ],
  ])('%s', (_name, report, want) => {
    expect(summarizeReplica(report).state).toBe(want);
  });

  it('adds up trips of provider breakers and keeps the latest trip', () => {
    const summary = summarizeReplica({
      'a/m1': { state: 'Closed', since: at(9), trips: 2, lastTrip: at(5) },
      'b/m1': { state: 'Closed', since: at(9), trips: 1, lastTrip: at(7) },
      'tool:x': { state: 'Closed', since: at(9), trips: 5, lastTrip: at(8) },
    });
    expect(summary).toEqual({ state: 'Closed', trips: 3, lastTrip: at(7) });
  });
});

describe('aggregateReplicas', () => {
  const replica = (state: ReplicaState, trips = 0, lastTrip?: string) => ({
    state,
    trips,
    lastTrip,
  });

  it.each([
    { name: 'no replicas is Closed', replicas: [], state: 'Closed', open: 0 },
    {
      name: 'every replica open is Open',
      replicas: [replica('Open'), replica('Open'), replica('Open')],
      state: 'Open',
      open: 3,
    },
    {
      name: 'some replicas open is Degraded',
      replicas: [replica('Open'), replica('Closed'), replica('Closed')],
      state: 'Degraded',
      open: 1,
    },
    {
      name: 'half-open and none open is HalfOpen',
      replicas: [replica('HalfOpen'), replica('Closed')],
      state: 'HalfOpen',
      open: 0,
    },
    {
      name: 'all closed is Closed',
      replicas: [replica('Closed'), replica('Closed')],
      state: 'Closed',
      open: 0,
    },
  ])('$name', ({ replicas, state, open }) => {
    const aggregate = aggregateReplicas(replicas);
    expect(aggregate.state).toBe(state);
    expect(aggregate.open).toBe(open);
    expect(aggregate.total).toBe(replicas.length);
    expect(aggregate.open + aggregate.halfOpen + aggregate.closed).toBe(replicas.length);
  });

  it.each([
    {
      name: 'replicas that have all not reported are Unknown',
      replicas: [replica('Unknown'), replica('Unknown')],
      state: 'Unknown',
    },
    {
      name: 'an unknown replica beside closed ones leaves the aggregate Closed, counted apart',
      replicas: [replica('Closed'), replica('Unknown')],
      state: 'Closed',
    },
    {
      name: 'open replicas beside an unknown one are Degraded, not Open',
      replicas: [replica('Open'), replica('Open'), replica('Unknown')],
      state: 'Degraded',
    },
  ])('$name', ({ replicas, state }) => {
    const aggregate = aggregateReplicas(replicas);
    expect(aggregate.state).toBe(state);
    expect(aggregate.unknown).toBe(replicas.filter((r) => r.state === 'Unknown').length);
  });
});

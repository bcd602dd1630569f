import { describe, expect, it } from '@jest/globals';
import type { BareResult } from './bareFloor.ts';
import type { ScaleResult } from './agentsAtScale.ts';
import { floorRound } from './floorPhase.ts';

const bare: BareResult = {
  agents: 1000,
  concurrency: 50,
  writes_s: 59.5,
  converged_s: 60,
  writes_per_agent: { total: 8 },
  render_cpu_s: 1.2,
  api_server_writes: {
    first_create_to_convergence: { total: 12000 },
    per_agent: 12,
    per_second: 200,
  },
  cpu_seconds: { 'kube-apiserver': 50, etcd: 10, bench: 4, total: 80 },
};

const operator = {
  agents: 1000,
  create_s: 8,
  converged_s: 90,
  writes_per_agent_at_convergence: { total: 7.1 },
  api_server_writes: {
    during_creates: { total: 2000 },
    creates_to_convergence: { total: 10600 },
    per_second_during_creates: 250,
    per_second_to_convergence: 129,
  },
  cpu_seconds: {
    during_creates: { 'kube-apiserver': 8, etcd: 2, operator: 1, total: 14 },
    creates_to_convergence: { 'kube-apiserver': 70, etcd: 15, operator: 13, total: 110 },
  },
} as unknown as ScaleResult;

describe('a round of the floor beside the operator', () => {
  it("puts the operator's convergence over the floor's, and each way's writes and CPU from first create to convergence", () => {
    const round = floorRound(bare, operator);
    expect(round.operator_over_floor).toBe(1.5);
    expect(round.client_writes_per_agent).toEqual({ bare: 8, operator: 8.1 });
    expect(round.api_server_writes_per_agent).toEqual({ bare: 12, operator: 12.6 });
    expect(round.api_server_writes_per_second).toEqual({ bare: 200, operator: 140 });
    expect(round.cpu_s.kube_apiserver).toEqual({ bare: 50, operator: 78 });
    expect(round.cpu_s.etcd).toEqual({ bare: 10, operator: 17 });
    expect(round.cpu_s.client).toEqual({ bare: 4, operator: 14 });
    expect(round.cpu_s.machine_total).toEqual({ bare: 80, operator: 124 });
  });
});

import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, McpServer } from '../../../contract/src/api/resources.ts';
import type {
  BreakerReport,
  ReportedBreakerState,
} from '../../../contract/src/reporting/breakerReport.ts';
import type { McpReport, McpServerReport } from '../../../contract/src/reporting/mcpReport.ts';
import {
  MAX_LAST_ERROR,
  mcpCondition,
  mcpServerStatuses,
  mcpSummary,
  type McpReplica,
} from './mcpStatus.ts';
import { statusAgent } from './statusFixtures.ts';

const agentWith = (mcpServers: McpServer[] | undefined): AgentDeployment =>
  statusAgent(mcpServers === undefined ? {} : { mcpServers });

const agent = agentWith([
  { name: 'github', url: 'http://github-mcp:8080/mcp' },
  { name: 'search', url: 'http://search-mcp:8080/mcp' },
]);

const up = (tools: number): McpServerReport => ({
  reachable: true,
  tools,
  since: '2026-11-23T07:00:00Z',
});
const down = (error: string, since = '2026-11-23T07:00:00Z'): McpServerReport => ({
  reachable: false,
  tools: 0,
  error,
  since,
});
const breakers = (states: Record<string, ReportedBreakerState>): BreakerReport =>
  Object.fromEntries(
    Object.entries(states).map(([name, state]) => [
      name,
      { state, since: '2026-11-23T07:00:00Z', trips: 0 },
    ]),
  );
const replica = (
  servers: McpReport['servers'] | undefined,
  states: Record<string, ReportedBreakerState> = {},
): McpReplica => ({
  mcp: servers === undefined ? undefined : { servers },
  breakers: breakers(states),
});

describe('mcpServerStatuses', () => {
  it('counts reachable replicas, takes the most tools, and counts each open tool breaker once', () => {
    const replicas = [
      replica({ github: up(12), search: up(3) }, { 'tool:github__search': 'Open' }),
      replica(
        { github: up(11), search: down('connect ECONNREFUSED') },
        { 'tool:github__search': 'Open', 'tool:github__issues': 'ForcedOpen' },
      ),
      replica(undefined),
    ];
    expect(mcpServerStatuses(agent, replicas)).toEqual([
      { name: 'github', reachable: 2, replicas: 3, tools: 12, openToolBreakers: 2 },
      {
        name: 'search',
        reachable: 1,
        replicas: 3,
        tools: 3,
        openToolBreakers: 0,
        lastError: 'connect ECONNREFUSED',
      },
    ]);
  });

  it("counts only the server's own tool breakers, neither another server's nor the provider's", () => {
    const replicas = [
      replica(
        { github: up(2), search: up(1) },
        {
          'tool:search__query': 'Open',
          'tool:lookup': 'Open',
          'default/m': 'Open',
          'tool:github__search': 'HalfOpen',
        },
      ),
    ];
    expect(mcpServerStatuses(agent, replicas)?.map((s) => s.openToolBreakers)).toEqual([0, 1]);
  });

  it('keeps the error of the replica that lost the server last, cut to what the schema holds', () => {
    const long = 'x'.repeat(MAX_LAST_ERROR + 10);
    const replicas = [
      replica({ github: down('older', '2026-11-23T07:00:00Z') }),
      replica({ github: down(long, '2026-11-23T07:05:00Z') }),
    ];
    expect(mcpServerStatuses(agent, replicas)?.[0]?.lastError).toBe('x'.repeat(MAX_LAST_ERROR));
  });

  it('is absent without spec.mcpServers', () => {
    expect(mcpServerStatuses(agentWith(undefined), [replica({})])).toBeUndefined();
    expect(mcpServerStatuses(agentWith([]), [replica({})])).toBeUndefined();
  });
});

describe('mcpSummary', () => {
  it('reads as one line, naming open tool breakers only when there are some', () => {
    expect(
      mcpSummary([
        { name: 'github', reachable: 3, replicas: 3, tools: 12, openToolBreakers: 1 },
        { name: 'search', reachable: 0, replicas: 3, tools: 0, openToolBreakers: 0 },
        { name: 'docs', reachable: 3, replicas: 3, tools: 4, openToolBreakers: 2 },
      ]),
    ).toBe(
      'github reachable 3/3, 12 tools, 1 tool breaker open; search reachable 0/3, 0 tools; ' +
        'docs reachable 3/3, 4 tools, 2 tool breakers open',
    );
  });
});

describe('mcpCondition', () => {
  it('is True while every reporting replica reaches every server; a replica still starting does not count', () => {
    const replicas = [replica({ github: up(1), search: up(1) }), replica(undefined)];
    const servers = mcpServerStatuses(agent, replicas) ?? [];
    expect(mcpCondition(servers, replicas)).toMatchObject({ status: 'True', reason: 'Reachable' });
  });

  it('is False naming each server some replica cannot reach, with its last error', () => {
    const replicas = [
      replica({ github: up(1), search: down('HTTP 503') }),
      replica({ github: up(1), search: up(1) }),
    ];
    const servers = mcpServerStatuses(agent, replicas) ?? [];
    expect(mcpCondition(servers, replicas)).toEqual({
      type: 'McpServersReachable',
      status: 'False',
      reason: 'Unreachable',
      message: 'search reachable 1/2: HTTP 503',
    });
  });

  it('is Unknown until a running replica reports', () => {
    const replicas = [replica(undefined)];
    const servers = mcpServerStatuses(agent, replicas) ?? [];
    expect(mcpCondition(servers, replicas)).toMatchObject({
      status: 'Unknown',
      reason: 'NotReported',
    });
  });
});

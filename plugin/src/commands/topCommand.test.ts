import { describe, expect, it } from '@jest/globals';
import { KubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import { DEBUG_OFF } from '../../../contract/src/reporting/debugStats.ts';
import type { PodObject } from '../cluster/agentObjects.ts';
import {
  DEBUG_OFF_HINT,
  rankAgents,
  statsProxyPath,
  topTable,
  unreadReason,
  type AgentTop,
} from './topCommand.ts';

const pod: PodObject = {
  metadata: { name: 'support-7f-x2', namespace: 'prod' },
  spec: {
    containers: [
      {
        name: 'runtime',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'metrics', containerPort: 9090 },
        ],
      },
    ],
  },
  status: { phase: 'Running', podIP: '127.0.0.1' },
};

const top = (name: string, rps: number, over: Partial<AgentTop> = {}): AgentTop => ({
  namespace: 'prod',
  name,
  running: 2,
  unread: [],
  replicas: 2,
  windowSeconds: 300,
  count: Math.round(rps * 300),
  throughputPerSecond: rps,
  successRate: 0.98,
  latencyMs: { p50: 850, p95: 2_400, p99: 4_100 },
  fallbackShare: 0.05,
  topErrors: [{ type: 'Overloaded', count: 6 }],
  withoutHistogram: 0,
  tools: [],
  ...over,
});

describe('kubectl breakwater top', () => {
  it('reads a pod through the pod proxy on its metrics port', () => {
    expect(statsProxyPath(pod)).toBe(
      '/api/v1/namespaces/prod/pods/support-7f-x2:9090/proxy/debug/stats',
    );
  });

  it("finds the metrics port on the runtime sidecar of a pod that runs the team's own agent", () => {
    const sidecarPod = {
      ...pod,
      spec: {
        initContainers: [{ name: 'runtime', ports: [{ name: 'metrics', containerPort: 9090 }] }],
        containers: [{ name: 'agent', ports: [{ name: 'web', containerPort: 8000 }] }],
      },
    };
    expect(statsProxyPath(sidecarPod)).toBe(
      '/api/v1/namespaces/prod/pods/support-7f-x2:9090/proxy/debug/stats',
    );
  });

  it.each([
    [new KubeApiError(404, undefined, JSON.stringify({ error: DEBUG_OFF })), DEBUG_OFF_HINT],
    [
      new KubeApiError(403, 'Forbidden', 'pods "x" is forbidden'),
      "forbidden: reading a pod's /debug/stats needs get on pods/proxy in namespace prod",
    ],
    [
      new KubeApiError(400, 'BadRequest', 'address not allowed'),
      "the API server will not proxy to this pod's IP 127.0.0.1 (loopback or link-local)",
    ],
    [
      new KubeApiError(503, undefined, 'connection refused'),
      'pod proxy answered 503: connection refused',
    ],
    [
      Object.assign(new Error('The operation was aborted'), {
        name: 'AbortError',
        cause: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      }),
      'no answer through the pod proxy within 10s',
    ],
  ])('says why a replica could not be read (%s)', (err, reason) => {
    expect(unreadReason(err, pod)).toBe(reason);
  });

  it('ranks the busiest agent first and renders one row each, with the replicas it could not read', () => {
    const ranked = rankAgents([
      top('batch', 0.5),
      top('support', 12.345, { unread: [{ pod: 'support-c', reason: 'forbidden' }], running: 3 }),
    ]);
    expect(topTable({ agents: ranked }, false)).toBe(
      [
        'AGENT     REPLICAS   REQ/S   SUCCESS   P50     P95    P99    FALLBACK   TOP ERRORS',
        'support   2/3        12.35   98%       850ms   2.4s   4.1s   5%         Overloaded=6',
        'batch     2/2        0.50    98%       850ms   2.4s   4.1s   5%         Overloaded=6',
        'Over the last 5m00s of each replica.',
        'support: pod support-c not read: forbidden',
        '',
      ].join('\n'),
    );
  });

  it('renders a row per tool under the agents, MCP tools by the name the model sees', () => {
    const table = topTable(
      {
        agents: [
          top('support', 1, {
            tools: [
              {
                tool: 'github__search',
                count: 120,
                errors: 6,
                successRate: 0.95,
                p95Ms: 420,
                topErrors: [{ type: 'BreakerOpen', count: 4 }],
              },
              {
                tool: 'lookup',
                count: 3,
                errors: 0,
                successRate: 1,
                p95Ms: 12,
                topErrors: [],
              },
            ],
          }),
        ],
      },
      false,
    );
    expect(table.split('\n').slice(2, 6)).toEqual([
      '',
      'AGENT     TOOL             CALLS   ERRORS   SUCCESS   P95     TOP ERRORS',
      'support   github__search   120     6        95%       420ms   BreakerOpen=4',
      'support   lookup           3       0        100%      12ms    -',
    ]);
  });

  it('prints no tool table when no agent called a tool', () => {
    expect(topTable({ agents: [top('support', 1)] }, false)).not.toContain('TOOL');
  });

  it('renders what each agent spent of its budgets, and the top keys by fingerprint', () => {
    const table = topTable(
      {
        agents: [
          top('support', 1, {
            budgets: [
              {
                name: 'monthly',
                per: 'Agent',
                spent: { usd: '310.123456', tokens: 9_000_000 },
                limit: { usd: '500' },
                percent: 62,
                resetsAt: '2026-12-01T00:00:00.000Z',
                projection: { usdPerHour: '1.5', tokensPerHour: 40_000 },
              },
              {
                name: 'per-key',
                per: 'ClientKey',
                spent: { usd: '0.004', tokens: 900 },
                byOneKey: { usd: '0.003', tokens: 600 },
                limit: { usd: '20' },
                percent: 0,
                resetsAt: '2026-11-25T00:00:00.000Z',
                topKeys: [{ key: 'key-3f9a0c1d', usd: '0.003', tokens: 600 }],
              },
            ],
          }),
        ],
      },
      false,
    );
    const lines = table.split('\n');
    const at = lines.findIndex((l) => l.startsWith('AGENT     BUDGET'));
    expect(lines.slice(at, at + 3)).toEqual([
      'AGENT     BUDGET    PER         SPENT     LIMIT     %     RESETS                     LAST HOUR   EXHAUSTS',
      'support   monthly   Agent       $310.12   $500.00   62%   2026-12-01T00:00:00.000Z   $1.50/h     -',
      'support   per-key   ClientKey   $0.0030   $20.00    0%    2026-11-25T00:00:00.000Z   -           -',
    ]);
    expect(lines[at + 3]).toBe(
      "Per ClientKey, SPENT and LIMIT are one key's: the most any key has spent, against each key's limit.",
    );
    expect(table).toContain('support   per-key   key-3f9a0c1d   $0.0030');
  });
});

import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { PodObject } from '../cluster/agentObjects.ts';
import { explainAgent, explainText, type ExplainInputs } from './explainCommand.ts';

const NOW = Date.parse('2026-11-22T19:00:00Z');

const agent = (status?: AgentDeployment['status'], generation = 2): AgentDeployment => ({
  apiVersion: 'breakwater.dev/v1alpha1',
  kind: 'AgentDeployment',
  metadata: { name: 'support', namespace: 'prod', generation },
  spec: {
    model: { name: 'm' },
    provider: { apiKeySecretRef: { name: 's', key: 'k' } },
    autoscaling: { maxReplicas: 6, targetCPUUtilizationPercentage: 70 },
  },
  ...(status === undefined ? {} : { status }),
});

const cond = (type: string, status: string, reason: string, message = '') => ({
  type,
  status: status as 'True' | 'False',
  reason,
  message,
  lastTransitionTime: '2026-11-22T18:00:00Z',
});

const pod = (name: string, over: Partial<NonNullable<PodObject['status']>> = {}): PodObject => ({
  metadata: { name },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], ...over },
});

function inputs(over: Partial<ExplainInputs>): ExplainInputs {
  return {
    agent: agent({
      observedGeneration: 2,
      readySummary: '2/2',
      conditions: [cond('Ready', 'True', 'Available', '2/2 replicas ready')],
    }),
    deployment: {
      spec: { replicas: 2 },
      status: {
        readyReplicas: 2,
        updatedReplicas: 2,
        conditions: [{ type: 'Available', status: 'True' }],
      },
    },
    pods: [pod('support-a'), pod('support-b')],
    autoscaler: {
      spec: { minReplicas: 1, maxReplicas: 6 },
      status: { currentReplicas: 2, desiredReplicas: 2 },
    },
    missingPolicies: [],
    events: [],
    nowMs: NOW,
    ...over,
  };
}

describe('explainAgent', () => {
  it('says a Ready agent is Ready and finds nothing wrong', () => {
    const x = explainAgent(inputs({}));
    expect(x).toMatchObject({
      ready: true,
      verdict: 'agentdeployment.breakwater.dev/support is Ready (2/2 replicas)',
      reasons: [],
    });
  });

  it("puts Ready first, then a pod that cannot start, with the kubelet's words", () => {
    const x = explainAgent(
      inputs({
        agent: agent({
          observedGeneration: 2,
          conditions: [
            cond('Ready', 'False', 'RollingOut', '1/2 replicas ready'),
            cond('Reconciling', 'True', 'RollingOut', '1/2 replicas ready'),
          ],
        }),
        pods: [
          pod('support-a'),
          pod('support-b', {
            phase: 'Pending',
            conditions: [{ type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                name: 'runtime',
                restartCount: 0,
                state: {
                  waiting: {
                    reason: 'CreateContainerConfigError',
                    message: 'secret "llm-provider-key" not found',
                  },
                },
              },
            ],
          }),
        ],
      }),
    );
    expect(x.ready).toBe(false);
    expect(x.reasons).toEqual([
      'Ready=False (RollingOut): 1/2 replicas ready',
      'Reconciling=True (RollingOut): 1/2 replicas ready',
      'pod support-b: Pending, waiting: CreateContainerConfigError: secret "llm-provider-key" not found',
    ]);
  });

  it.each([
    [
      'no status at all',
      { agent: agent() },
      'the operator has not reported on it: is breakwater-operator running, and watching namespace prod?',
    ],
    [
      'a status of an older generation',
      { agent: agent({ observedGeneration: 1, conditions: [cond('Ready', 'True', 'Available')] }) },
      'the operator has not yet seen generation 2 (status is of 1)',
    ],
    [
      'a missing policy',
      { missingPolicies: ['CircuitBreakerPolicy prod'] },
      "CircuitBreakerPolicy prod does not exist: the agent runs with that policy's defaults until it does",
    ],
    ['no Deployment', { deployment: undefined }, 'Deployment support does not exist'],
    [
      'a Deployment past its deadline',
      {
        deployment: {
          spec: { replicas: 2 },
          status: {
            conditions: [
              {
                type: 'Progressing',
                status: 'False',
                reason: 'ProgressDeadlineExceeded',
                message: 'ReplicaSet "support-7f" has timed out progressing.',
              },
            ],
          },
        },
      },
      'Deployment support: Progressing=False (ProgressDeadlineExceeded): ReplicaSet "support-7f" has timed out progressing.',
    ],
    [
      'a crash-looping pod',
      {
        pods: [
          pod('support-a', {
            conditions: [],
            containerStatuses: [
              {
                name: 'runtime',
                restartCount: 4,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
              },
            ],
          }),
        ],
      },
      'pod support-a: Running, waiting: CrashLoopBackOff, 4 restarts',
    ],
    [
      "a crash-looping runtime sidecar beside the team's agent",
      {
        pods: [
          pod('support-a', {
            conditions: [],
            initContainerStatuses: [
              {
                name: 'runtime',
                restartCount: 3,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
              },
            ],
            containerStatuses: [{ name: 'agent', restartCount: 0, state: {} }],
          }),
        ],
      },
      'pod support-a: Running, waiting: CrashLoopBackOff, 3 restarts',
    ],
    [
      'scale-out held',
      {
        agent: agent({
          observedGeneration: 2,
          conditions: [
            cond('Ready', 'True', 'Available'),
            cond('ScaleOutHeld', 'True', 'ProviderQuotaLow', 'provider headroom 5%'),
          ],
        }),
      },
      'ScaleOutHeld=True (ProviderQuotaLow): provider headroom 5%',
    ],
    [
      'an MCP server out of reach, though the agent is Ready',
      {
        agent: agent({
          observedGeneration: 2,
          conditions: [
            cond('Ready', 'True', 'Available'),
            cond('McpServersReachable', 'False', 'Unreachable', 'github reachable 0/2: HTTP 503'),
          ],
        }),
      },
      'McpServersReachable=False (Unreachable): github reachable 0/2: HTTP 503',
    ],
  ])('names %s', (_name, over, reason) => {
    expect(explainAgent(inputs(over)).reasons).toContain(reason);
  });

  it('shows a held autoscaler against its spec, and the latest Events about the agent and its children, oldest first', () => {
    const event = (name: string, reason: string, at: string) => ({
      type: 'Warning',
      reason,
      message: `${reason} happened`,
      involvedObject: { kind: 'Pod', name },
      lastTimestamp: at,
    });
    const x = explainAgent(
      inputs({
        autoscaler: {
          spec: { minReplicas: 1, maxReplicas: 2 },
          status: { currentReplicas: 2, desiredReplicas: 2 },
        },
        events: [
          event('support-b', 'BackOff', '2026-11-22T18:59:00Z'),
          event('other-a', 'Noise', '2026-11-22T18:59:30Z'),
          event('support-a', 'Unhealthy', '2026-11-22T18:58:00Z'),
        ],
      }),
    );
    expect(x.children).toContainEqual({
      kind: 'HorizontalPodAutoscaler',
      name: 'support',
      state: '1..2 (held; spec 6), current 2, desired 2',
    });
    expect(x.events.map((e) => [e.age, e.reason, e.object])).toEqual([
      ['2m', 'Unhealthy', 'pod/support-a'],
      ['60s', 'BackOff', 'pod/support-b'],
    ]);
    expect(explainText(x)).toContain(
      'Events (latest 10):\nAGE   TYPE      REASON      OBJECT          MESSAGE\n2m    Warning   Unhealthy   pod/support-a   Unhealthy happened\n',
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { minimalAgent, ownContainerAgent } from '../builders/builderFixtures.ts';
import { agentContainerStatus, agentEnvCondition } from './agentContainerStatus.ts';
import type { PodView } from './views.ts';

const pod = (image: string, imageID?: string): PodView => ({
  metadata: { name: `pod-${image}` },
  status: {
    phase: 'Running',
    containerStatuses: [{ name: 'agent', image, ...(imageID === undefined ? {} : { imageID }) }],
  },
});

describe('status.agent', () => {
  it('says nothing about an agent container the AgentDeployment does not have', () => {
    expect(agentContainerStatus(minimalAgent(), [pod('x')])).toBeUndefined();
    expect(agentEnvCondition(minimalAgent())).toBeUndefined();
  });

  it('names the image spec.agent asks for before any pod runs it', () => {
    expect(agentContainerStatus(ownContainerAgent(), [])).toEqual({
      image: 'registry.example.com/team/triage-agent:1.4.2',
      running: [],
    });
  });

  it('counts the pods on each image and digest, most first, as during a rollout', () => {
    const status = agentContainerStatus(ownContainerAgent(), [
      pod('team/agent:1', 'sha256:aaa'),
      pod('team/agent:2', 'sha256:bbb'),
      pod('team/agent:2', 'sha256:bbb'),
      // A container not started yet reports no image: not counted.
      { metadata: { name: 'starting' }, status: { phase: 'Running' } },
    ]);
    expect(status?.running).toEqual([
      { image: 'team/agent:2', imageID: 'sha256:bbb', replicas: 2 },
      { image: 'team/agent:1', imageID: 'sha256:aaa', replicas: 1 },
    ]);
  });
});

describe('condition AgentEnvOverridden', () => {
  it('is False while every injected variable is the operator’s', () => {
    expect(agentEnvCondition(ownContainerAgent())).toMatchObject({
      status: 'False',
      reason: 'Injected',
    });
  });

  it('is True and names each variable the agent sets itself', () => {
    const agent = ownContainerAgent();
    agent.spec.agent?.env?.push(
      { name: 'ANTHROPIC_BASE_URL', value: 'https://gateway.example.com' },
      { name: 'ANTHROPIC_API_KEY', value: 'k' },
    );
    const condition = agentEnvCondition(agent);
    expect(condition).toMatchObject({ status: 'True', reason: 'AgentSetsInjectedVariables' });
    expect(condition?.message).toContain('ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY');
  });
});

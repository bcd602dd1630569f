/**
 * What status says about the team's own agent container (`spec.agent`): which image the pods
 * run, and whether the agent's own env replaces a variable the operator injects. Pure.
 */
import type { AgentContainerStatus, AgentDeployment } from '../../../contract/src/api/resources.ts';
import { AGENT_CONTAINER, overriddenAgentEnv } from '../builders/agentContainer.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { PodView } from './views.ts';

export const AGENT_ENV_CONDITION = 'AgentEnvOverridden';

/** The images the running pods' agent containers run, most pods first; undefined without spec.agent. */
export function agentContainerStatus(
  agent: Readonly<AgentDeployment>,
  running: readonly PodView[],
): AgentContainerStatus | undefined {
  const spec = agent.spec.agent;
  if (spec === undefined) return undefined;
  const counts = new Map<string, { image: string; imageID?: string; replicas: number }>();
  for (const pod of running) {
    const status = pod.status?.containerStatuses?.find((s) => s.name === AGENT_CONTAINER);
    if (status?.image === undefined) continue;
    const imageID =
      status.imageID === undefined || status.imageID === '' ? undefined : status.imageID;
    const key = `${status.image}\n${imageID ?? ''}`;
    const entry = counts.get(key) ?? {
      image: status.image,
      ...(imageID === undefined ? {} : { imageID }),
      replicas: 0,
    };
    entry.replicas += 1;
    counts.set(key, entry);
  }
  const runningImages = [...counts.values()].sort(
    (a, b) => b.replicas - a.replicas || a.image.localeCompare(b.image),
  );
  return { image: spec.image, running: runningImages };
}

/** AgentEnvOverridden: True naming the variables the agent sets itself; undefined without spec.agent. */
export function agentEnvCondition(agent: Readonly<AgentDeployment>): ConditionUpdate | undefined {
  if (agent.spec.agent === undefined) return undefined;
  const overridden = overriddenAgentEnv(agent);
  return overridden.length === 0
    ? { type: AGENT_ENV_CONDITION, status: 'False', reason: 'Injected', message: '' }
    : {
        type: AGENT_ENV_CONDITION,
        status: 'True',
        reason: 'AgentSetsInjectedVariables',
        message: `spec.agent.env sets ${overridden.join(', ')}: its values win over the injected ones, so the agent may bypass the runtime or present a key it does not accept`,
      };
}

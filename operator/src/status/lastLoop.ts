/**
 * A CircuitBreakerPolicy's `status.lastLoop`: the newest loop any replica of the agents under
 * it reports (`lastLoop` in the `breakwater.dev/mcp` pod annotation). Kept once written: a
 * loop stays the last one until a newer one, even after the pod that saw it is gone.
 */
import type { CircuitBreakerPolicyStatus } from '../../../contract/src/api/resources.ts';
import type { PodView } from './views.ts';
import { podMcpReport } from './mcpStatus.ts';

export type LastLoop = NonNullable<CircuitBreakerPolicyStatus['lastLoop']>;

/** `lastLoop.tool`'s maxLength in crds/schemas: a longer cycle would make the write fail. */
export const MAX_LOOP_TOOL = 512;

export interface LoopSource {
  /** `namespace/name` of the AgentDeployment. */
  readonly agent: string;
  /** Its pods, terminating ones included: a loop seen just before a rollout still counts. */
  readonly pods: readonly PodView[];
}

export function newestLoop(
  previous: LastLoop | undefined,
  sources: readonly LoopSource[],
): LastLoop | undefined {
  let newest = previous;
  for (const { agent, pods } of sources) {
    for (const pod of pods) {
      const loop = podMcpReport(pod)?.lastLoop;
      if (loop === undefined) continue;
      if (newest !== undefined && Date.parse(loop.at) <= Date.parse(newest.time)) continue;
      newest = {
        agent,
        tool: loop.tool.slice(0, MAX_LOOP_TOOL),
        count: loop.count,
        time: loop.at,
        shadow: loop.shadow,
      };
    }
  }
  return newest;
}

/**
 * The demo agent's pods as Prometheus file_sd targets: Debian's Prometheus is built without
 * Kubernetes discovery, so demo/targetRefresher.ts writes this list for it.
 */
import { rename, writeFile } from 'node:fs/promises';
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import { agentPods } from './agentPods.ts';
import { AGENT_NAME, DEMO_NAMESPACE } from './demoLayout.ts';

export interface FileSdGroup {
  readonly targets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** One group per pod, labelled as a ServiceMonitor would label it (the rules group by these). */
export async function agentTargets(
  client: KubeClient,
  forwardsFile?: string,
): Promise<FileSdGroup[]> {
  const pods = await agentPods(client, { forwardsFile });
  return pods.flatMap((pod) =>
    pod.metricsUrl === undefined
      ? []
      : [
          {
            targets: [new URL(pod.metricsUrl).host],
            labels: { namespace: DEMO_NAMESPACE, service: AGENT_NAME, pod: pod.name },
          },
        ],
  );
}

export async function writeTargets(path: string, groups: readonly FileSdGroup[]): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, `${JSON.stringify(groups, null, 2)}\n`);
  await rename(partial, path);
}

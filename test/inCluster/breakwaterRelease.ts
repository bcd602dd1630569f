/**
 * What each in-cluster suite sets up the same way: the chart installed from the image under
 * test as a release of its own, watching only the suite's namespace, and the simulator's
 * control API, reached where the suite's cluster lets this machine reach a pod.
 */
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { chartDir, findHelm, run } from '../chart/chartTools.ts';
import { api, isPodReady, type PodView } from '../support/breakwaterCluster.ts';
import { kubeconfigPath, waitFor } from '../support/kube.ts';
import { simulatorControl } from '../support/simulator.ts';
import type { ClusterReach } from './clusterReach.ts';
import { SIMULATOR } from './simulatorObjects.ts';

export interface BreakwaterRelease {
  readonly name: string;
  uninstall(): Promise<void>;
}

/** `helm install` of the chart into `namespace`, running `image`, watching `namespace` only. */
export async function installBreakwater(
  namespace: string,
  image: string,
): Promise<BreakwaterRelease> {
  const helm = await findHelm();
  const helmArgs = (...args: string[]): string[] => [...args, '--kubeconfig', kubeconfigPath()];
  const name = `bw-${namespace.slice(-6)}`;
  const colon = image.lastIndexOf(':');
  await run(
    helm,
    helmArgs(
      'install',
      name,
      chartDir,
      '--namespace',
      namespace,
      '--skip-crds',
      '--set',
      `watchNamespace=${namespace}`,
      '--set',
      `image.repository=${image.slice(0, colon)}`,
      '--set',
      `image.tag=${image.slice(colon + 1)}`,
      '--set',
      'image.pullPolicy=IfNotPresent',
    ),
  );
  return {
    name,
    async uninstall() {
      await run(helm, helmArgs('uninstall', name, '--namespace', namespace, '--wait'), {
        allowFailure: true,
      });
    },
  };
}

/** The control API of the simulator running in `namespace`, once a pod of it is ready. */
export async function simulatorIn(
  namespace: string,
  reach: ClusterReach,
): Promise<ReturnType<typeof simulatorControl>> {
  const pod = await waitFor(
    async () =>
      (
        await api().list<PodView>(Kinds.Pod, {
          namespace,
          labelSelector: `app.kubernetes.io/name=${SIMULATOR}`,
        })
      ).items.find(isPodReady),
    { timeoutMs: 60_000, description: 'a ready simulator pod' },
  );
  return simulatorControl(await reach.podUrl(pod, 'http'));
}

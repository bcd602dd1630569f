/**
 * Which pods run as real containers. Container mode is opt-in per namespace — the label
 * `localnode.breakwater.dev/containers: "true"` — so process mode stays the fast default
 * for every other suite on the same cluster. In such a namespace a container's image must be
 * in podman's local storage (`make image` puts Breakwater's there); there is no registry to
 * pull from, so one that is not waits as kubelet's pods do with `imagePullPolicy: Never`.
 */
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { ClusterAccess } from './serviceAccountCredentials.ts';
import type { ContainerRuntime } from './containerRuntime.ts';

export const containerModeLabel = 'localnode.breakwater.dev/containers';

export interface ContainerModeOptions {
  readonly client: Pick<KubeClient, 'get'>;
  readonly runtime: ContainerRuntime;
  readonly cluster: ClusterAccess;
}

export class ContainerMode {
  readonly runtime: ContainerRuntime;
  /** KUBERNETES_SERVICE_HOST/PORT: the API server, which containers reach on the host's network. */
  readonly serviceEnv: ReadonlyMap<string, string>;
  readonly #client: Pick<KubeClient, 'get'>;

  constructor(options: ContainerModeOptions) {
    this.#client = options.client;
    this.runtime = options.runtime;
    const server = new URL(options.cluster.server);
    this.serviceEnv = new Map([
      ['KUBERNETES_SERVICE_HOST', server.hostname.replace(/^\[(.*)\]$/, '$1')],
      ['KUBERNETES_SERVICE_PORT', server.port === '' ? '443' : server.port],
      ['KUBERNETES_SERVICE_PORT_HTTPS', server.port === '' ? '443' : server.port],
    ]);
  }

  /** Whether pods of `namespace` run as containers (read at every container start). */
  async applies(namespace: string): Promise<boolean> {
    const object = await this.#client.get<KubeObject>(Kinds.Namespace, '', namespace);
    return object?.metadata?.labels?.[containerModeLabel] === 'true';
  }
}

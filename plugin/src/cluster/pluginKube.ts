/**
 * The plugin's connection to the API server: the contract's client, with the kubeconfig read
 * the way kubectl reads it (`--kubeconfig`, `--context`, and the context's namespace), behind
 * the narrow interface the commands use — so a command can be tested on recorded objects.
 */
import { type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { HttpKubeClient } from '../../../platform/src/kube/httpKubeClient.ts';
import { Kubeconfig } from '../../../platform/src/kube/kubeconfig.ts';
import type { Connection } from '../cli/pluginArgs.ts';

export type PluginKube = Pick<KubeClient, 'get' | 'list' | 'patch'> & {
  /** A GET of any API path as text (a pod's own answer through the pod proxy). */
  getText(path: string, signal?: AbortSignal): Promise<string>;
};

export interface Connected {
  readonly kube: PluginKube;
  /** Where the command looks: undefined for every namespace (`-A`). */
  readonly namespace: string | undefined;
  readonly close: () => void;
}

export function connect(connection: Connection): Connected {
  const config = Kubeconfig.load(connection.kubeconfig, { context: connection.context });
  const client = new HttpKubeClient(config);
  return {
    kube: client,
    namespace: connection.allNamespaces
      ? undefined
      : (connection.namespace ?? config.namespace ?? 'default'),
    close: () => {
      client.close();
    },
  };
}

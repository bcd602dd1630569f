import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the tools that make the cluster keep what they build and run, all under the gitignored
 * `.breakwater/` (the kind cluster's own state is tools/kindNode's, `.breakwater/kind/`).
 */
export interface ClusterLayout {
  readonly repoRoot: string;
  readonly logDir: string;
  /** Builds the Kubernetes binaries (kubectl, kubeadm, the kubelet, ...) into the cache. */
  readonly buildScript: string;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export function clusterLayout(root: string = repoRoot): ClusterLayout {
  return {
    repoRoot: root,
    logDir: join(root, '.breakwater', 'logs'),
    buildScript: join(root, 'tools', 'cluster', 'build-binaries.sh'),
  };
}

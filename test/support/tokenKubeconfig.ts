/**
 * A kubeconfig that holds a service-account token and nothing else: the cluster's address and
 * CA from the admin kubeconfig, none of its credentials.
 */
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

/** Where the API server is and how to trust it, from the admin kubeconfig. */
export interface ClusterAccess {
  readonly server: string;
  /** Base64 PEM of the CA, as kubeconfig's certificate-authority-data. */
  readonly caData: string | undefined;
  readonly insecureSkipTlsVerify: boolean;
}

export async function clusterAccessFrom(config: KubeConfig): Promise<ClusterAccess> {
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  const caData =
    cluster.caData ??
    (cluster.caFile === undefined
      ? undefined
      : (await readFile(cluster.caFile)).toString('base64'));
  return { server: cluster.server, caData, insecureSkipTlsVerify: cluster.skipTLSVerify };
}

export interface KubeconfigContent {
  readonly cluster: ClusterAccess;
  readonly token: string;
  /** client-go re-reads it; @kubernetes/client-node uses the inline token. */
  readonly tokenFile: string;
  readonly namespace: string;
  readonly user: string;
}

export function renderKubeconfig(content: KubeconfigContent): string {
  const { cluster } = content;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'local',
        cluster: {
          server: cluster.server,
          ...(cluster.caData === undefined ? {} : { 'certificate-authority-data': cluster.caData }),
          ...(cluster.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
        },
      },
    ],
    users: [{ name: content.user, user: { token: content.token, tokenFile: content.tokenFile } }],
    contexts: [
      {
        name: 'pod',
        context: { cluster: 'local', user: content.user, namespace: content.namespace },
      },
    ],
    'current-context': 'pod',
  });
}

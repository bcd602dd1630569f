/**
 * A pod's service-account identity, the way kubelet's projected token volume provides it:
 * a token from the TokenRequest API bound to the pod (so it dies with the pod), refreshed
 * before it expires. Instead of a mounted volume the process gets KUBECONFIG pointing at a
 * per-pod kubeconfig (the cluster's server and CA, the token, the pod's namespace), which
 * @kubernetes/client-node's loadFromDefault() and kubectl both read. RBAC applies for real.
 * Container mode mounts `projectedDir` instead — token, ca.crt and namespace, kubelet's
 * kube-api-access volume — at /var/run/secrets/kubernetes.io/serviceaccount.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { errorMessage, type Logger } from './log.ts';
import type { Pod } from './podTypes.ts';

/** How processes reach the API server: taken from the admin kubeconfig, minus its credentials. */
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

/** Kubelet mounts a token unless the pod opts out; a pod without a service account gets none. */
export function wantsServiceAccountToken(pod: Pod): boolean {
  const name = pod.spec.serviceAccountName;
  return name !== undefined && name !== '' && pod.spec.automountServiceAccountToken !== false;
}

interface TokenRequest extends KubeObject {
  spec: {
    audiences: string[];
    expirationSeconds: number;
    boundObjectRef: { apiVersion: string; kind: string; name: string; uid: string };
  };
  status?: { token: string; expirationTimestamp: string };
}

/**
 * 3607 s is kubelet's own request: the API server recognises it and, with
 * --service-account-extend-token-expiration (the default), issues a longer-lived token, so a
 * process that read its kubeconfig once keeps working; we still refresh at 80% of the TTL.
 */
const kubeletExpirationSeconds = 3607;

export interface ServiceAccountCredentialsOptions {
  readonly client: Pick<KubeClient, 'create'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly pod: Pod;
  /** A directory only this pod uses; token and kubeconfig are written there. */
  readonly dir: string;
  readonly cluster: ClusterAccess;
  readonly expirationSeconds?: number;
}

export class ServiceAccountCredentials {
  readonly #o: ServiceAccountCredentialsOptions;
  #minted: Promise<string> | undefined;
  #refresh: Cancel | undefined;
  #stopped = false;

  constructor(options: ServiceAccountCredentialsOptions) {
    this.#o = options;
  }

  get kubeconfigPath(): string {
    return join(this.#o.dir, 'kubeconfig');
  }

  /** The projected service-account volume's files: `token`, `ca.crt`, `namespace`. */
  get projectedDir(): string {
    return join(this.#o.dir, 'projected');
  }

  /** Mints the first token (once, shared by every container) and returns the kubeconfig path. */
  ensure(): Promise<string> {
    this.#minted ??= this.#mint().then(
      () => this.kubeconfigPath,
      (err: unknown) => {
        this.#minted = undefined; // the next container start tries again
        throw new Error(
          `cannot get a token for service account ${this.#o.pod.spec.serviceAccountName ?? ''}: ${errorMessage(err)}`,
        );
      },
    );
    return this.#minted;
  }

  /** Stops refreshing and removes the files: the token is worthless once the pod is gone anyway. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#refresh?.();
    this.#refresh = undefined;
    await rm(this.#o.dir, { recursive: true, force: true });
  }

  async #mint(): Promise<void> {
    const { pod, client, clock } = this.#o;
    const namespace = pod.metadata.namespace ?? '';
    const serviceAccount = pod.spec.serviceAccountName ?? '';
    const requestedSeconds = this.#o.expirationSeconds ?? kubeletExpirationSeconds;
    const issuedAt = clock.now();
    const answer = await client.create<TokenRequest>(
      Kinds.ServiceAccount,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        metadata: { name: serviceAccount, namespace },
        spec: {
          audiences: [],
          expirationSeconds: requestedSeconds,
          boundObjectRef: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.metadata.name ?? '',
            uid: pod.metadata.uid ?? '',
          },
        },
      },
      'token',
    );
    const token = answer.status?.token;
    if (token === undefined || token === '') throw new Error('TokenRequest returned no token');
    if (this.#stopped) return;
    await this.#write(token);
    const expiresAt = Date.parse(answer.status?.expirationTimestamp ?? '');
    const lifetimeMs = Math.min(
      requestedSeconds * 1000,
      Number.isNaN(expiresAt) ? Infinity : expiresAt - issuedAt,
    );
    this.#scheduleRefresh(Math.max(1_000, Math.floor(lifetimeMs * 0.8)));
  }

  #scheduleRefresh(ms: number): void {
    if (this.#stopped) return;
    this.#refresh = this.#o.clock.setTimeout(() => {
      this.#mint().catch((err: unknown) => {
        this.#o.log.warn('service account token refresh failed; retrying', {
          error: errorMessage(err),
        });
        this.#scheduleRefresh(10_000);
      });
    }, ms);
  }

  async #write(token: string): Promise<void> {
    const { dir, cluster, pod } = this.#o;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tokenFile = join(dir, 'token');
    await writeAtomically(tokenFile, token);
    await this.#writeProjected(token);
    await writeAtomically(
      this.kubeconfigPath,
      renderKubeconfig({
        cluster,
        token,
        tokenFile,
        namespace: pod.metadata.namespace ?? 'default',
        user: `system:serviceaccount:${pod.metadata.namespace ?? ''}:${pod.spec.serviceAccountName ?? ''}`,
      }),
    );
  }

  async #writeProjected(token: string): Promise<void> {
    const { cluster, pod } = this.#o;
    const dir = this.projectedDir;
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    await writeAtomically(join(dir, 'token'), token, PROJECTED_MODE);
    await writeAtomically(join(dir, 'namespace'), pod.metadata.namespace ?? '', PROJECTED_MODE);
    if (cluster.caData !== undefined) {
      const ca = Buffer.from(cluster.caData, 'base64').toString('utf8');
      await writeAtomically(join(dir, 'ca.crt'), ca, PROJECTED_MODE);
    }
  }
}

/**
 * The kube-api-access volume: the ServiceAccount admission plugin gives it defaultMode 0644,
 * so a container's non-root user reads the files that root (the local node) writes.
 */
const PROJECTED_MODE = 0o644;

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

async function writeAtomically(path: string, content: string, mode = 0o600): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
}

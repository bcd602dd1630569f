/**
 * Acting as a workload does: a token from the TokenRequest API (bound to a pod when one is
 * named, which gives it the `authentication.kubernetes.io/pod-name` claim, as the kubelet's
 * projected token has), presented alone, with no client certificate, by kubectl and by the
 * runtime's own Kubernetes client. RBAC and admission then judge each request exactly as they
 * judge the pod's own.
 *
 *   const as = await actAs(await serviceAccountToken({ namespace, serviceAccount, pod }));
 *   await as.client.patch(Kinds.Pod, namespace, name, patch, 'merge');
 *   await as.kubectl(['auth', 'whoami']);
 */
import { afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectlFor, type Kubectl } from '../../tools/cluster/kubectl.ts';
import { HttpKubeClient } from '../../platform/src/kube/httpKubeClient.ts';
import { clusterAccessFrom, renderKubeconfig } from './tokenKubeconfig.ts';
import { kubeConfig, kubectl, kubectlPath } from './kube.ts';

export interface TokenRequestOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The pod the token is bound to: it dies with the pod and names it in its claims. */
  readonly pod?: { readonly name: string; readonly uid: string };
}

/** `kubectl create token`, bound to the pod when one is given. */
export async function serviceAccountToken(options: TokenRequestOptions): Promise<string> {
  const { namespace, serviceAccount, pod } = options;
  const bound =
    pod === undefined
      ? []
      : [
          '--bound-object-kind=Pod',
          `--bound-object-name=${pod.name}`,
          `--bound-object-uid=${pod.uid}`,
        ];
  const { stdout } = await kubectl([
    'create',
    'token',
    serviceAccount,
    '-n',
    namespace,
    '--duration=10m',
    ...bound,
  ]);
  return stdout.trim();
}

export interface TokenHolder {
  /** kubectl as the holder of the token, and nobody else. */
  readonly kubectl: Kubectl;
  /** The client the runtime and the operator use, on the same credentials. */
  readonly client: HttpKubeClient;
}

/** The directories holding tokens, removed when the test file is done with them. */
const tokenDirs: string[] = [];
afterAll(() => {
  for (const dir of tokenDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export async function actAs(token: string): Promise<TokenHolder> {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-token-'));
  tokenDirs.push(dir);
  const kubeconfig = join(dir, 'kubeconfig');
  const tokenFile = `${kubeconfig}.token`;
  writeFileSync(tokenFile, token, { mode: 0o600 });
  writeFileSync(
    kubeconfig,
    renderKubeconfig({
      cluster: await clusterAccessFrom(kubeConfig()),
      token,
      tokenFile,
      namespace: 'default',
      user: 'token-holder',
    }),
    { mode: 0o600 },
  );
  return {
    kubectl: kubectlFor(kubectlPath(), kubeconfig),
    client: HttpKubeClient.fromKubeconfig(kubeconfig),
  };
}

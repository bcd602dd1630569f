/**
 * What integration tests use to talk to the cluster the global setup prepared (the local one,
 * or whatever BREAKWATER_KUBECONFIG names): the real kubectl, a client-node KubeConfig, a
 * polling helper that says what it waited for, and throwaway namespaces.
 */
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import {
  kubectlFor,
  type KubectlResult,
  type KubectlRunOptions,
} from '../../tools/cluster/kubectl.ts';
import { waitFor } from './waitFor.ts';

function requiredEnv(name: 'BREAKWATER_KUBECONFIG' | 'BREAKWATER_KUBECTL'): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: run the integration tests through jest's integration project ` +
        '(its globalSetup prepares the cluster), e.g. `make test-integration`',
    );
  }
  return value;
}

export function kubeconfigPath(): string {
  return requiredEnv('BREAKWATER_KUBECONFIG');
}

/** The kubectl that matches the test cluster's server. */
export function kubectlPath(): string {
  return requiredEnv('BREAKWATER_KUBECTL');
}

export function kubeConfig(): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath());
  return config;
}

export type {
  KubectlResult,
  KubectlRunOptions as KubectlOptions,
} from '../../tools/cluster/kubectl.ts';

/** Runs the real kubectl against the test cluster (the demo's runner, on the test kubeconfig). */
export function kubectl(
  args: readonly string[],
  options: KubectlRunOptions = {},
): Promise<KubectlResult> {
  return kubectlFor(kubectlPath(), kubeconfigPath())(args, options);
}

export { waitFor, type WaitForOptions } from './waitFor.ts';

export interface TestNamespace {
  readonly name: string;
  /** Deletes the namespace without waiting for its finalization. */
  readonly cleanup: () => Promise<void>;
}

/** Labels every namespace the tests create, so leftovers are easy to find and delete. */
export const testNamespaceLabel = 'breakwater.dev/test';

/**
 * Creates a namespace with a random suffix (and `labels`) and waits for its `default`
 * ServiceAccount, so pods can be created in it at once.
 */
export async function uniqueNamespace(
  prefix: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<TestNamespace> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
    throw new Error(`namespace prefix ${JSON.stringify(prefix)} does not make a DNS label`);
  }
  const namespace = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { ...labels, [testNamespaceLabel]: 'true' } },
  };
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(namespace) });
  await waitFor(
    async () =>
      (await kubectl(['get', 'serviceaccount', 'default', '-n', name], { allowFailure: true }))
        .code === 0,
    { timeoutMs: 30_000, description: `ServiceAccount default in namespace ${name}` },
  );
  return {
    name,
    cleanup: async () => {
      await kubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=false']);
    },
  };
}

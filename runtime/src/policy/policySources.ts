/**
 * Starts the policy source the flags chose and the matching client-key source: a policy file
 * or manifests on disk (keys from BREAKWATER_CLIENT_KEYS or a Secret among the manifests),
 * or, in a pod, the ConfigMap and Secret watched through the API.
 */
import { CLIENT_KEYS_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { AgentRuntime } from '../agentRuntime.ts';
import type { PolicySourceOption } from '../cli/runtimeOptions.ts';
import { PolicyFileSource } from './policyFileSource.ts';
import type { RunningSource, SourceDeps } from './sourceDeps.ts';

export async function startPolicySource(
  option: PolicySourceOption,
  runtime: AgentRuntime,
  deps: SourceDeps,
): Promise<RunningSource> {
  switch (option.kind) {
    case 'file': {
      runtime.useClientKeySource(envClientKeys(runtime, deps));
      const source = new PolicyFileSource(option.path, runtime.store, deps.clock);
      await source.start();
      return {
        stop: () => {
          source.stop();
          return Promise.resolve();
        },
      };
    }
    case 'manifests': {
      const { ManifestSource } = await import('./manifestSource.ts');
      const source = new ManifestSource(option, runtime, deps);
      await source.start();
      return {
        stop: () => {
          source.stop();
          return Promise.resolve();
        },
      };
    }
    case 'cluster': {
      const { startClusterSources } = await import('./clusterSource.ts');
      return startClusterSources(option, runtime, deps);
    }
  }
}

/** Standalone keys: BREAKWATER_CLIENT_KEYS, comma-separated, enforced when set or when the policy asks. */
export function envClientKeys(runtime: AgentRuntime, deps: SourceDeps) {
  const raw = deps.env[CLIENT_KEYS_ENV];
  const keys =
    raw === undefined
      ? undefined
      : raw
          .split(',')
          .map((k) => k.trim())
          .filter((k) => k !== '');
  if (keys !== undefined) runtime.clientKeys.set(keys);
  return {
    follow(secretName: string | undefined) {
      if (keys !== undefined) return;
      if (secretName === undefined) {
        runtime.clientKeys.set(undefined);
        return;
      }
      // The policy wants keys but none were given: refuse everyone rather than open the door.
      deps.logger.warn(
        { secret: secretName },
        'access.clientKeysSecret is set but BREAKWATER_CLIENT_KEYS is not: every call will get 401',
      );
      runtime.clientKeys.set([]);
    },
  };
}

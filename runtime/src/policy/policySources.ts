/**
 * Starts a policy source on disk and the matching client-key source: a policy file (keys from
 * BREAKWATER_CLIENT_KEYS) or manifests (keys from BREAKWATER_CLIENT_KEYS or a Secret among
 * them). In a pod, the cluster integration (runtime/src/cluster/) is the source instead.
 */
import { CLIENT_KEYS_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { PolicySourceOption } from '../cli/runtimeOptions.ts';
import { PolicyFileSource } from './policyFileSource.ts';
import type { ClientKeySource, PolicyIntake, RunningSource, SourceDeps } from './sourceDeps.ts';

export async function startDiskSource(
  option: Exclude<PolicySourceOption, { kind: 'cluster' }>,
  intake: PolicyIntake,
  deps: SourceDeps,
): Promise<RunningSource> {
  const source =
    option.kind === 'file'
      ? new PolicyFileSource(option.path, intake.store, deps.clock)
      : new (await import('./manifestSource.ts')).ManifestSource(option, intake, deps);
  if (option.kind === 'file') intake.useClientKeySource(envClientKeys(intake, deps));
  await source.start();
  return {
    stop: () => {
      source.stop();
      return Promise.resolve();
    },
  };
}

/** Standalone keys: BREAKWATER_CLIENT_KEYS, comma-separated, enforced when set or when the policy asks. */
export function envClientKeys(intake: PolicyIntake, deps: SourceDeps): ClientKeySource {
  const raw = deps.env[CLIENT_KEYS_ENV];
  const keys =
    raw === undefined
      ? undefined
      : raw
          .split(',')
          .map((k) => k.trim())
          .filter((k) => k !== '');
  if (keys !== undefined) intake.clientKeys.set(keys);
  return {
    follow(secretName: string | undefined) {
      if (keys !== undefined) return;
      if (secretName === undefined) {
        intake.clientKeys.set(undefined);
        return;
      }
      // The policy wants keys but none were given: refuse everyone rather than open the door.
      deps.logger.warn(
        { secret: secretName },
        'access.clientKeysSecret is set but BREAKWATER_CLIENT_KEYS is not: every call will get 401',
      );
      intake.clientKeys.set([]);
    },
  };
}

/**
 * What every policy source is given and gives back: the few parts of the runtime a source
 * feeds (`PolicyIntake`), the process's environment, logger and clock, and a handle to stop it.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { ClientKeys } from '../access/clientKeys.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ManifestMounts } from './manifestMounts.ts';
import type { PolicyStore } from './policyStore.ts';

export interface RunningSource {
  stop(): Promise<void>;
}

export interface SourceDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly clock: Clock;
  /** `--manifests`: where the Secrets among them become the files a pod would have. */
  readonly mounts?: ManifestMounts;
}

/** Where the client keys come from when the policy asks for them. */
export interface ClientKeySource {
  /** Called with the Secret's name whenever the policy names one (or stops naming one). */
  follow(secretName: string | undefined): void;
}

/** The parts of the runtime a policy source feeds: documents, client keys, provider keys. */
export interface PolicyIntake {
  readonly store: Pick<PolicyStore, 'offerDocument' | 'offerText' | 'reject' | 'settled'>;
  readonly clientKeys: Pick<ClientKeys, 'set'>;
  /** Provider keys by environment variable name (Secrets among `--manifests`). */
  useProviderKeys(keys: Readonly<Record<string, string>>): void;
  /** The journal key of `durability`, from a Secret among `--manifests` (else its mounted file). */
  useDurabilityKey?(key: Buffer | undefined): void;
  /** The source of client keys that follows the policy's `access.clientKeysSecret`. */
  useClientKeySource(source: ClientKeySource): void;
}

/**
 * Single Secret keys mounted as files under fixed names in the runtime container only — the
 * rate-limit store's password and CA (RateLimitPolicy spec.store), and durability's journal key,
 * password and CA (AgentDeployment spec.durability) — with the variables that name each file
 * for the runtime.
 */
import type { PolicyDocument, SecretKeyRef } from '../../../contract/src/policy/policyDocument.ts';
import {
  DURABILITY_CA_FILE,
  DURABILITY_CA_FILE_ENV,
  DURABILITY_KEY_FILE,
  DURABILITY_KEY_FILE_ENV,
  DURABILITY_MOUNT_PATH,
  DURABILITY_PASSWORD_FILE,
  DURABILITY_PASSWORD_FILE_ENV,
  DURABILITY_SENTINEL_PASSWORD_FILE,
  DURABILITY_SENTINEL_PASSWORD_FILE_ENV,
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_CA_FILE_ENV,
  RATE_LIMIT_STORE_MOUNT_PATH,
  RATE_LIMIT_STORE_PASSWORD_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { Volume, VolumeMount } from './kubeShapes.ts';

const STORE_PASSWORD_VOLUME = 'rate-limit-store-auth';
const STORE_CA_VOLUME = 'rate-limit-store-tls';
const DURABILITY_KEY_VOLUME = 'durability-key';
const DURABILITY_PASSWORD_VOLUME = 'durability-store-auth';
const DURABILITY_CA_VOLUME = 'durability-store-tls';
const STORE_SENTINEL_PASSWORD_VOLUME = 'rate-limit-store-sentinel-auth';
const DURABILITY_SENTINEL_PASSWORD_VOLUME = 'durability-store-sentinel-auth';

/**
 * The rate-limit store's password, CA certificate and sentinels' password as files under fixed names, each from
 * the Secret key the policy names. Mounted, as the client keys are, so the runtime needs no
 * Secret access; optional, so a missing Secret shows as the store's SecretMissing condition
 * (the runtime falls back to its share) instead of a pod that never starts.
 */
export function rateLimitStoreVolumes(doc: Readonly<PolicyDocument>): StoreSecretFile[] {
  const redis = doc.rateLimit.store?.redis;
  return [
    ...(redis?.passwordSecretRef === undefined
      ? []
      : [
          secretFile(
            STORE_PASSWORD_VOLUME,
            redis.passwordSecretRef,
            RATE_LIMIT_STORE_PASSWORD_FILE,
            RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
            RATE_LIMIT_STORE_MOUNT_PATH,
          ),
        ]),
    ...(redis?.tls?.caSecretRef === undefined
      ? []
      : [
          secretFile(
            STORE_CA_VOLUME,
            redis.tls.caSecretRef,
            RATE_LIMIT_STORE_CA_FILE,
            RATE_LIMIT_STORE_CA_FILE_ENV,
            RATE_LIMIT_STORE_MOUNT_PATH,
          ),
        ]),
    ...(redis?.sentinel?.passwordSecretRef === undefined
      ? []
      : [
          secretFile(
            STORE_SENTINEL_PASSWORD_VOLUME,
            redis.sentinel.passwordSecretRef,
            RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE,
            RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV,
            RATE_LIMIT_STORE_MOUNT_PATH,
          ),
        ]),
  ];
}

export interface StoreSecretFile {
  readonly volume: Volume;
  readonly mount: VolumeMount;
  /** Names the file for the runtime (the local test node rewrites such paths). */
  readonly env: { readonly name: string; readonly value: string };
}

/** One Secret key as the file `relativePath` under the store's mount path. */
function secretFile(
  name: string,
  ref: { readonly name: string; readonly key: string },
  relativePath: string,
  envName: string,
  root: string,
): StoreSecretFile {
  const slash = relativePath.lastIndexOf('/');
  return {
    volume: {
      name,
      secret: {
        secretName: ref.name,
        items: [{ key: ref.key, path: relativePath.slice(slash + 1) }],
        optional: true,
      },
    },
    mount: {
      name,
      mountPath: `${root}/${relativePath.slice(0, slash)}`,
      readOnly: true,
    },
    env: { name: envName, value: `${root}/${relativePath}` },
  };
}

/**
 * Durability's journal key and its store's password, CA and sentinels' password: optional, as the store's are, so a
 * missing Secret leaves durable runs off (the runtime logs why) rather than a pod that never
 * starts.
 */
export function durabilityVolumes(doc: Readonly<PolicyDocument>): StoreSecretFile[] {
  const durability = doc.durability;
  if (durability === undefined) return [];
  const { redis } = durability.store;
  const files: [string, SecretKeyRef | undefined, string, string][] = [
    [
      DURABILITY_KEY_VOLUME,
      durability.encryptionKeySecretRef,
      DURABILITY_KEY_FILE,
      DURABILITY_KEY_FILE_ENV,
    ],
    [
      DURABILITY_PASSWORD_VOLUME,
      redis.passwordSecretRef,
      DURABILITY_PASSWORD_FILE,
      DURABILITY_PASSWORD_FILE_ENV,
    ],
    [DURABILITY_CA_VOLUME, redis.tls?.caSecretRef, DURABILITY_CA_FILE, DURABILITY_CA_FILE_ENV],
    [
      DURABILITY_SENTINEL_PASSWORD_VOLUME,
      redis.sentinel?.passwordSecretRef,
      DURABILITY_SENTINEL_PASSWORD_FILE,
      DURABILITY_SENTINEL_PASSWORD_FILE_ENV,
    ],
  ];
  return files.flatMap(([volume, ref, file, env]) =>
    ref === undefined ? [] : [secretFile(volume, ref, file, env, DURABILITY_MOUNT_PATH)],
  );
}

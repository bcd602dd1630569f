/**
 * Where a Bedrock backend's AWS credentials come from: its `credentialsSecretRef`, mounted as
 * files and read again when rotated (mountedFiles.ts), or else the AWS SDK's default chain
 * (`fromNodeProviderChain` from @aws-sdk/credential-providers: environment, web identity for
 * IRSA, EKS Pod Identity, instance metadata), which caches what it gets and fetches new
 * credentials before the old ones expire. The chain's package is loaded only for a backend
 * that uses it (bench/results/memory.json), from the moment the backend is made (when its
 * policy is applied), so a first call finds it loaded.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { AWS_CREDENTIAL_KEYS } from '../../../../contract/src/pod/runtimeEnvironment.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { MissingCredentialsError } from '../cloudErrors.ts';
import { MountedFiles } from '../mountedFiles.ts';
import { errorMessage } from '../../../../platform/src/node/errorMessage.ts';

export function awsCredentials(
  backend: string,
  dir: string | undefined,
  clock: Clock,
): AwsCredentialIdentityProvider {
  if (dir === undefined) {
    const chain = loadAwsCredentialProviders().then((m) => m.fromNodeProviderChain());
    // Awaited by each call; a failure to load is the first call's error, not the process's.
    chain.catch(() => undefined);
    return async () => {
      try {
        return await (
          await chain
        )();
      } catch (err) {
        throw new MissingCredentialsError(
          `Bedrock backend ${backend} found no AWS credentials in the default chain (${errorMessage(err)}); set spec.backends[${backend}].credentialsSecretRef or give the pod an AWS identity (IRSA, EKS Pod Identity)`,
        );
      }
    };
  }
  const files = new MountedFiles(dir, Object.values(AWS_CREDENTIAL_KEYS), clock);
  let last:
    | { readonly from: ReadonlyMap<string, string>; readonly identity: AwsCredentialIdentity }
    | undefined;
  return async () => {
    const read = await files.contents();
    if (last?.from === read) return last.identity;
    const accessKeyId = read.get(AWS_CREDENTIAL_KEYS.accessKeyId);
    const secretAccessKey = read.get(AWS_CREDENTIAL_KEYS.secretAccessKey);
    if (
      accessKeyId === undefined ||
      accessKeyId === '' ||
      secretAccessKey === undefined ||
      secretAccessKey === ''
    )
      throw new MissingCredentialsError(
        `Bedrock backend ${backend}: the Secret of spec.backends[${backend}].credentialsSecretRef, mounted at ${dir}, needs keys ${AWS_CREDENTIAL_KEYS.accessKeyId} and ${AWS_CREDENTIAL_KEYS.secretAccessKey}`,
      );
    const sessionToken = read.get(AWS_CREDENTIAL_KEYS.sessionToken);
    const identity: AwsCredentialIdentity = {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken === undefined || sessionToken === '' ? {} : { sessionToken }),
    };
    last = { from: read, identity };
    return identity;
  };
}

let providers: Promise<typeof import('@aws-sdk/credential-providers')> | undefined;

/** @aws-sdk/credential-providers, loaded once, the first time a backend needs the chain. */
export function loadAwsCredentialProviders(): Promise<
  typeof import('@aws-sdk/credential-providers')
> {
  providers ??= import('@aws-sdk/credential-providers');
  return providers;
}

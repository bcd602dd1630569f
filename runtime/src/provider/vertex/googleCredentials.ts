/**
 * Bearer tokens for a Vertex backend, from google-auth-library: its `credentialsSecretRef`
 * (a service-account or external-account JSON, mounted as a file and read again when
 * rotated, mountedFiles.ts), or else Application Default Credentials (GKE Workload Identity
 * or the metadata server). The library caches a token and fetches the next one before the
 * last expires (its eager-refresh threshold), so a call waits for a token only at start and
 * when a rotated file brings a new account.
 *
 * A service-account key's own `token_uri` is honoured: google-auth-library posts to Google's
 * token URL whatever the key says, which is right for Google's keys and wrong for any other
 * issuer (a private endpoint, the simulator the tests run).
 *
 * The library is loaded only for a Vertex backend (bench/results/memory.json), from the moment
 * the backend is made (when its policy is applied), so a first call finds it loaded.
 */
import type { AuthClient } from 'google-auth-library';
import { VERTEX_CREDENTIALS_KEY } from '../../../../contract/src/pod/runtimeEnvironment.ts';
import type { Clock } from '../../../../platform/src/time/clock.ts';
import { MountedFiles } from '../mountedFiles.ts';
import { MissingCredentialsError } from '../cloudErrors.ts';
import { errorMessage } from '../../../../platform/src/node/errorMessage.ts';

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export type TokenSource = () => Promise<string>;

export function googleTokens(backend: string, dir: string | undefined, clock: Clock): TokenSource {
  const library = loadGoogleAuth();
  // Awaited by each call; a failure to load is the first call's error, not the process's.
  library.catch(() => undefined);
  if (dir === undefined) {
    const auth = library.then(({ GoogleAuth }) => new GoogleAuth({ scopes: [SCOPE] }));
    auth.catch(() => undefined);
    return async () =>
      token(backend, await (await auth).getClient(), 'Application Default Credentials');
  }
  const files = new MountedFiles(dir, [VERTEX_CREDENTIALS_KEY], clock);
  let current: { readonly json: string; readonly client: Promise<AuthClient> } | undefined;
  return async () => {
    const json = (await files.contents()).get(VERTEX_CREDENTIALS_KEY);
    if (json === undefined || json === '')
      throw new MissingCredentialsError(
        `Vertex backend ${backend}: the Secret of spec.backends[${backend}].credentialsSecretRef, mounted at ${dir}, needs key ${VERTEX_CREDENTIALS_KEY}`,
      );
    if (current?.json !== json) current = { json, client: clientFor(backend, json) };
    return token(backend, await current.client, `spec.backends[${backend}].credentialsSecretRef`);
  };
}

async function clientFor(backend: string, json: string): Promise<AuthClient> {
  let credentials: Record<string, unknown>;
  try {
    credentials = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new MissingCredentialsError(
      `Vertex backend ${backend}: ${VERTEX_CREDENTIALS_KEY} in spec.backends[${backend}].credentialsSecretRef is not JSON`,
    );
  }
  const { GoogleAuth } = await loadGoogleAuth();
  const client = await new GoogleAuth({ credentials, scopes: [SCOPE] }).getClient();
  const tokenUri = credentials.token_uri;
  if (
    credentials.type === 'service_account' &&
    typeof tokenUri === 'string' &&
    tokenUri !== GOOGLE_TOKEN_URL &&
    URL.canParse(tokenUri)
  ) {
    client.transporter.interceptors.request.add({
      resolved: (config) => {
        if (config.url.toString() === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
        return Promise.resolve(config);
      },
    });
  }
  return client;
}

async function token(backend: string, client: AuthClient, from: string): Promise<string> {
  let value: string | null | undefined;
  try {
    value = (await client.getAccessToken()).token;
  } catch (err) {
    throw new MissingCredentialsError(
      `Vertex backend ${backend} could not get a token from ${from}: ${errorMessage(err)}`,
    );
  }
  if (value === null || value === undefined || value === '')
    throw new MissingCredentialsError(`Vertex backend ${backend} got no token from ${from}`);
  return value;
}

let library: Promise<typeof import('google-auth-library')> | undefined;

/** google-auth-library, loaded once, the first time a Vertex backend is made. */
export function loadGoogleAuth(): Promise<typeof import('google-auth-library')> {
  library ??= import('google-auth-library');
  return library;
}

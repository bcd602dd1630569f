/**
 * The JSON body of `POST /_sim/credentials`, which tells a running simulator whom to accept:
 *
 *   {"provider":"bedrock","accessKeyId":"AKIA…","secretAccessKey":"…","sessionToken":"…"}
 *   {"provider":"vertex","clientEmail":"sa@p.iam.gserviceaccount.com","publicKey":"-----BEGIN …",
 *    "tokenTtlSeconds":60}
 *
 * `sessionToken` and `tokenTtlSeconds` are optional; `publicKey` is a PEM public key, a
 * certificate or the service account's private key. Unknown fields are refused.
 */
import { createPublicKey } from 'node:crypto';
import type { AwsCredentials } from './sigV4Verifier.ts';
import type { ServiceAccountKey } from './vertexTokenIssuer.ts';

export type CredentialRequest =
  | ({ readonly provider: 'bedrock' } & AwsCredentials)
  | ({ readonly provider: 'vertex' } & ServiceAccountKey);

export type CredentialParseResult =
  | { readonly ok: true; readonly credential: CredentialRequest }
  | { readonly ok: false; readonly message: string };

const FIELDS = {
  bedrock: ['provider', 'accessKeyId', 'secretAccessKey', 'sessionToken'],
  vertex: ['provider', 'clientEmail', 'publicKey', 'tokenTtlSeconds'],
} as const;

export function parseCredentialRequest(body: Buffer): CredentialParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, message: 'body: not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, message: 'body: a credential is a JSON object' };
  }
  const fields = json as Readonly<Record<string, unknown>>;
  const provider = fields['provider'];
  if (provider !== 'bedrock' && provider !== 'vertex') {
    return { ok: false, message: 'provider: "bedrock" or "vertex"' };
  }
  const known: readonly string[] = FIELDS[provider];
  const unknown = Object.keys(fields).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    return { ok: false, message: `${unknown}: unknown field; known: ${known.join(', ')}` };
  }
  const text = (name: string) => {
    const value = fields[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  if (provider === 'bedrock') {
    const accessKeyId = text('accessKeyId');
    const secretAccessKey = text('secretAccessKey');
    if (accessKeyId === undefined) return { ok: false, message: 'accessKeyId: required' };
    if (secretAccessKey === undefined) return { ok: false, message: 'secretAccessKey: required' };
    const sessionToken = text('sessionToken');
    return {
      ok: true,
      credential: {
        provider,
        accessKeyId,
        secretAccessKey,
        ...(sessionToken === undefined ? {} : { sessionToken }),
      },
    };
  }
  const clientEmail = text('clientEmail');
  const publicKey = text('publicKey');
  const ttl = fields['tokenTtlSeconds'];
  if (clientEmail === undefined) return { ok: false, message: 'clientEmail: required' };
  if (publicKey === undefined) return { ok: false, message: 'publicKey: a PEM key, required' };
  try {
    createPublicKey(publicKey);
  } catch {
    return { ok: false, message: 'publicKey: not a PEM public key, certificate or private key' };
  }
  if (ttl !== undefined && !(Number.isSafeInteger(ttl) && (ttl as number) >= 1)) {
    return { ok: false, message: 'tokenTtlSeconds: a whole number of seconds, at least 1' };
  }
  return {
    ok: true,
    credential: {
      provider,
      clientEmail,
      publicKey,
      ...(ttl === undefined ? {} : { tokenTtlSeconds: ttl as number }),
    },
  };
}

/**
 * A small OAuth 2.0 token endpoint for Vertex AI's bearer tokens, as Google's
 * `oauth2.googleapis.com/token` serves service accounts: the client posts the JWT-bearer grant
 * (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`, what
 * google-auth-library sends for a service-account key), the JWT is checked (RS256 signature
 * against the public key configured for its `iss`, audience, the cloud-platform scope, an
 * `iat`/`exp` window of at most an hour around now) and an opaque access token is issued for a
 * configurable lifetime. Requests then carry `Authorization: Bearer <token>`; an unknown or
 * expired token is refused. Failures answer in OAuth 2's error shape with Google's messages.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';

/** The token lifetime Google gives service accounts. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** The audience google-auth-library puts in its JWT, whatever the key file's `token_uri`. */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Clock skew allowed on `iat`. */
const SKEW_SECONDS = 300;

export interface ServiceAccountKey {
  readonly clientEmail: string;
  /** PEM: a public key, a certificate, or the private key itself (its public half is used). */
  readonly publicKey: string;
  /** Lifetime of the tokens issued to this account; default one hour. */
  readonly tokenTtlSeconds?: number | undefined;
}

export type TokenGrant =
  | {
      readonly ok: true;
      readonly body: {
        readonly access_token: string;
        readonly expires_in: number;
        readonly token_type: 'Bearer';
      };
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly error: string;
      readonly description: string;
    };

export type BearerCheck =
  | { readonly ok: true; readonly clientEmail: string }
  | { readonly ok: false; readonly reason: 'missing' | 'unknown' | 'expired' };

interface Account {
  readonly key: KeyObject;
  readonly ttlSeconds: number;
}

export class VertexTokenIssuer {
  readonly #accounts = new Map<string, Account>();
  readonly #tokens = new Map<string, { clientEmail: string; expiresAtMs: number }>();

  /** Accepts JWTs from this service account (replacing its key if it was known). */
  add(account: ServiceAccountKey): void {
    const ttl = account.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    if (!(Number.isSafeInteger(ttl) && ttl >= 1)) {
      throw new RangeError(`tokenTtlSeconds: a whole number of seconds, at least 1; got ${ttl}`);
    }
    this.#accounts.set(account.clientEmail, {
      key: createPublicKey(account.publicKey),
      ttlSeconds: ttl,
    });
  }

  /** Forgets every account and revokes every token; returns how many accounts there were. */
  clear(): number {
    const cleared = this.#accounts.size;
    this.#accounts.clear();
    this.#tokens.clear();
    return cleared;
  }

  get accounts(): string[] {
    return [...this.#accounts.keys()];
  }

  /**
   * Answers a token request's form body. `audiences` are the token URLs a JWT may name: Google's
   * and the simulator's own `/token` as the client addressed it.
   */
  grant(form: string, nowMs: number, audiences: readonly string[]): TokenGrant {
    const params = new URLSearchParams(form);
    const grantType = params.get('grant_type');
    if (grantType !== JWT_BEARER) {
      return refuse(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    }
    const jwt = decodeJwt(params.get('assertion') ?? '');
    if (jwt === undefined) return refuse(400, 'invalid_grant', 'Invalid JWT: malformed assertion.');
    if (jwt.header['alg'] !== 'RS256') {
      return refuse(400, 'invalid_grant', 'Invalid JWT: the signing algorithm must be RS256.');
    }
    const { iss, aud, scope, iat, exp } = jwt.claims;
    const account = typeof iss === 'string' ? this.#accounts.get(iss) : undefined;
    if (typeof iss !== 'string' || account === undefined) {
      return refuse(400, 'invalid_grant', 'Invalid grant: account not found');
    }
    if (!verify('RSA-SHA256', Buffer.from(jwt.signedPart), account.key, jwt.signature)) {
      return refuse(400, 'invalid_grant', 'Invalid JWT Signature.');
    }
    if (typeof aud !== 'string' || !audiences.includes(aud)) {
      return refuse(400, 'invalid_grant', `Invalid JWT: Failed audience check. ${String(aud)}`);
    }
    const now = Math.floor(nowMs / 1000);
    const inWindow =
      typeof iat === 'number' &&
      typeof exp === 'number' &&
      iat <= now + SKEW_SECONDS &&
      exp > now &&
      exp - iat <= 3600;
    if (!inWindow) {
      return refuse(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    if (typeof scope !== 'string' || !scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)) {
      return refuse(400, 'invalid_scope', 'Invalid oauth scope or ID token audience provided.');
    }
    const token = `ya29.sim-${randomBytes(24).toString('base64url')}`;
    this.#tokens.set(token, { clientEmail: iss, expiresAtMs: nowMs + account.ttlSeconds * 1000 });
    this.#forgetExpired(nowMs);
    return {
      ok: true,
      body: { access_token: token, expires_in: account.ttlSeconds, token_type: 'Bearer' },
    };
  }

  /** Checks a request's `Authorization` header. */
  check(authorization: string | undefined, nowMs: number): BearerCheck {
    if (authorization?.startsWith('Bearer ') !== true) return { ok: false, reason: 'missing' };
    const issued = this.#tokens.get(authorization.slice('Bearer '.length));
    if (issued === undefined) return { ok: false, reason: 'unknown' };
    if (nowMs >= issued.expiresAtMs) return { ok: false, reason: 'expired' };
    return { ok: true, clientEmail: issued.clientEmail };
  }

  #forgetExpired(nowMs: number): void {
    // Kept a minute past expiry, so that a late request is told "expired" rather than "unknown".
    for (const [token, issued] of this.#tokens) {
      if (nowMs >= issued.expiresAtMs + 60_000) this.#tokens.delete(token);
    }
  }
}

function refuse(status: number, error: string, description: string): TokenGrant {
  return { ok: false, status, error, description };
}

interface DecodedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly signedPart: string;
  readonly signature: Buffer;
}

function decodeJwt(assertion: string): DecodedJwt | undefined {
  const parts = assertion.split('.');
  if (parts.length !== 3) return undefined;
  const [header = '', claims = '', signature = ''] = parts;
  try {
    const json = (part: string) => {
      const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
      if (typeof value !== 'object' || value === null) throw new Error('not an object');
      return value as Record<string, unknown>;
    };
    return {
      header: json(header),
      claims: json(claims),
      signedPart: `${header}.${claims}`,
      signature: Buffer.from(signature, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  CLOUD_PLATFORM_SCOPE,
  GOOGLE_TOKEN_URL,
  VertexTokenIssuer,
  type TokenGrant,
} from './vertexTokenIssuer.ts';

const EMAIL = 'runtime@project.iam.gserviceaccount.com';
const NOW = Date.UTC(2026, 4, 22, 12, 0, 0);
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT-bearer assertion as google-auth-library builds it for a service-account key. */
function assertion(claims: Record<string, unknown> = {}, key = privateKey, alg = 'RS256'): string {
  const iat = Math.floor(NOW / 1000);
  const body = {
    iss: EMAIL,
    scope: CLOUD_PLATFORM_SCOPE,
    aud: GOOGLE_TOKEN_URL,
    iat,
    exp: iat + 3600,
    ...claims,
  };
  const signed = `${b64({ alg, typ: 'JWT' })}.${b64(body)}`;
  return `${signed}.${sign('RSA-SHA256', Buffer.from(signed), key).toString('base64url')}`;
}

function form(jwt: string, grantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer'): string {
  return new URLSearchParams({ grant_type: grantType, assertion: jwt }).toString();
}

function issuer(tokenTtlSeconds?: number): VertexTokenIssuer {
  const i = new VertexTokenIssuer();
  i.add({
    clientEmail: EMAIL,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    tokenTtlSeconds,
  });
  return i;
}

function token(grant: TokenGrant): string {
  if (!grant.ok) throw new Error(`expected a token: ${grant.description}`);
  return grant.body.access_token;
}

describe('VertexTokenIssuer', () => {
  it('issues a bearer token for a JWT signed with the service account key', () => {
    const grant = issuer(60).grant(form(assertion()), NOW, [GOOGLE_TOKEN_URL]);
    expect(grant).toMatchObject({ ok: true, body: { expires_in: 60, token_type: 'Bearer' } });
  });

  it('accepts the token it issued until its lifetime is over, then calls it expired', () => {
    const i = issuer(60);
    const bearer = `Bearer ${token(i.grant(form(assertion()), NOW, [GOOGLE_TOKEN_URL]))}`;
    expect(i.check(bearer, NOW + 59_999)).toEqual({ ok: true, clientEmail: EMAIL });
    expect(i.check(bearer, NOW + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it.each([
    ['no Authorization header', undefined, 'missing'],
    ['a token it never issued', 'Bearer ya29.made-up', 'unknown'],
    ['a key instead of a bearer token', 'x-api-key', 'missing'],
  ])('refuses %s', (_name, header, reason) => {
    expect(issuer().check(header, NOW)).toEqual({ ok: false, reason });
  });

  it('revokes every token when its accounts are cleared', () => {
    const i = issuer();
    const bearer = `Bearer ${token(i.grant(form(assertion()), NOW, [GOOGLE_TOKEN_URL]))}`;
    i.clear();
    expect(i.check(bearer, NOW)).toEqual({ ok: false, reason: 'unknown' });
  });

  it.each<[string, string, string, string]>([
    [
      'a JWT signed with another key',
      form(assertion({}, other.privateKey)),
      'invalid_grant',
      'Invalid JWT Signature.',
    ],
    [
      'an unknown service account',
      form(assertion({ iss: 'x@p.iam.gserviceaccount.com' })),
      'invalid_grant',
      'account not found',
    ],
    [
      'another grant type',
      form(assertion(), 'client_credentials'),
      'unsupported_grant_type',
      'client_credentials',
    ],
    ['a JWT that is not one', form('not.a.jwt'), 'invalid_grant', 'malformed'],
    ['an HS256 JWT', form(assertion({}, privateKey, 'HS256')), 'invalid_grant', 'RS256'],
    [
      'an expired JWT',
      form(assertion({ iat: NOW / 1000 - 7200, exp: NOW / 1000 - 3600 })),
      'invalid_grant',
      'short-lived',
    ],
    [
      'a JWT for more than an hour',
      form(assertion({ exp: NOW / 1000 + 7200 })),
      'invalid_grant',
      'short-lived',
    ],
    [
      'a JWT for another audience',
      form(assertion({ aud: 'https://example.com/token' })),
      'invalid_grant',
      'audience',
    ],
    [
      'a JWT without the cloud-platform scope',
      form(assertion({ scope: 'email' })),
      'invalid_scope',
      'scope',
    ],
  ])('refuses %s, as Google does', (_name, body, error, description) => {
    const grant = issuer().grant(body, NOW, [GOOGLE_TOKEN_URL]);
    expect(grant).toMatchObject({ ok: false, status: 400, error });
    if (!grant.ok) expect(grant.description).toContain(description);
  });
});

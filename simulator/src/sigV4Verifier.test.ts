import { describe, expect, it } from '@jest/globals';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { SigV4Verifier, type AwsCredentials, type SignedRequest } from './sigV4Verifier.ts';

const NOW = Date.UTC(2026, 4, 22, 12, 0, 0);
const KEY: AwsCredentials = { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'secret-1' };
const BODY = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 8,
  messages: [],
});
const PATH = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke';

interface Signing {
  readonly credentials?: AwsCredentials;
  readonly at?: number;
  readonly service?: string;
  readonly region?: string;
  readonly body?: string;
  readonly query?: Record<string, string>;
}

/** A request as an AWS SDK sends it: signed by @smithy/signature-v4, host header included. */
async function signed({
  credentials = KEY,
  at = NOW,
  service = 'bedrock',
  region = 'us-east-1',
  body = BODY,
  query = {},
}: Signing = {}): Promise<SignedRequest> {
  const signer = new SignatureV4({ credentials, region, service, sha256: Sha256 });
  const request = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 8787,
      path: PATH,
      query,
      headers: {
        host: '127.0.0.1:8787',
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body,
    },
    { signingDate: new Date(at) },
  );
  const search = new URLSearchParams(query).toString();
  return {
    method: 'POST',
    url: search === '' ? PATH : `${PATH}?${search}`,
    headers: request.headers,
    body: Buffer.from(body),
  };
}

function verifier(...credentials: AwsCredentials[]): SigV4Verifier {
  const v = new SigV4Verifier();
  for (const c of credentials) v.add(c);
  return v;
}

describe('SigV4Verifier', () => {
  it('accepts a request signed with a known key, naming the key and region', async () => {
    await expect(verifier(KEY).verify(await signed(), NOW)).resolves.toEqual({
      ok: true,
      accessKeyId: KEY.accessKeyId,
      region: 'us-east-1',
    });
  });

  it('accepts a query string and a signature four minutes old', async () => {
    const request = await signed({ query: { b: '2', a: 'x y' }, at: NOW - 4 * 60_000 });
    await expect(verifier(KEY).verify(request, NOW)).resolves.toMatchObject({ ok: true });
  });

  it('accepts temporary credentials with their session token', async () => {
    const temporary = { ...KEY, sessionToken: 'session-1' };
    await expect(
      verifier(temporary).verify(await signed({ credentials: temporary }), NOW),
    ).resolves.toMatchObject({ ok: true });
  });

  it.each<[string, Signing, (r: SignedRequest) => SignedRequest, string, string]>([
    [
      'an unknown key id',
      { credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'secret-1' } },
      (r) => r,
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    ],
    [
      'a wrong secret',
      { credentials: { ...KEY, secretAccessKey: 'not-the-secret' } },
      (r) => r,
      'InvalidSignatureException',
      'does not match the signature you provided',
    ],
    [
      // The SDK declares the body's hash in x-amz-content-sha256; it must be checked against the body.
      'a body changed after signing, under the hash the client declared',
      {},
      (r) => ({ ...r, body: Buffer.from(BODY.replace('8', '9')) }),
      'InvalidSignatureException',
      'does not match',
    ],
    [
      'a path changed after signing',
      {},
      (r) => ({ ...r, url: r.url.replace('invoke', 'invoke-with-response-stream') }),
      'InvalidSignatureException',
      'does not match',
    ],
    [
      'a signed header changed after signing',
      {},
      (r) => ({ ...r, headers: { ...r.headers, accept: 'text/plain' } }),
      'InvalidSignatureException',
      'does not match',
    ],
    [
      'a date more than five minutes old',
      { at: NOW - 5 * 60_000 - 1000 },
      (r) => r,
      'InvalidSignatureException',
      'Signature expired: 20260522T115459Z is now earlier than 20260522T115500Z (20260522T120000Z - 5 min.)',
    ],
    [
      'a date more than five minutes ahead',
      { at: NOW + 6 * 60_000 },
      (r) => r,
      'InvalidSignatureException',
      'Signature not yet current',
    ],
    [
      'a credential scoped to another service',
      { service: 's3' },
      (r) => r,
      'InvalidSignatureException',
      "Credential should be scoped to correct service: 'bedrock'.",
    ],
    [
      'no Authorization header',
      {},
      (r) => ({ ...r, headers: { ...r.headers, authorization: undefined } }),
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
    ],
    [
      'a session token the key was not issued with',
      {},
      (r) => ({ ...r, headers: { ...r.headers, 'x-amz-security-token': 'stolen' } }),
      'UnrecognizedClientException',
      'invalid',
    ],
  ])('refuses %s', async (_name, signing, tamper, exception, message) => {
    const result = await verifier(KEY).verify(tamper(await signed(signing)), NOW);
    expect(result).toMatchObject({ ok: false, exception });
    if (!result.ok) expect(result.message).toContain(message);
  });

  it('refuses temporary credentials presented without their session token', async () => {
    const temporary = { ...KEY, sessionToken: 'session-1' };
    await expect(verifier(temporary).verify(await signed(), NOW)).resolves.toMatchObject({
      ok: false,
      exception: 'UnrecognizedClientException',
    });
  });

  it('forgets cleared keys, so a rotated-out key is refused', async () => {
    const v = verifier(KEY);
    v.clear();
    v.add({ accessKeyId: 'AKIDNEW', secretAccessKey: 'secret-2' });
    await expect(v.verify(await signed(), NOW)).resolves.toMatchObject({
      ok: false,
      exception: 'UnrecognizedClientException',
    });
    expect(v.accessKeyIds).toEqual(['AKIDNEW']);
  });
});

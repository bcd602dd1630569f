/**
 * The signer as the runtime's Bedrock wire and the simulator's verifier build it (`@smithy/signature-v4` on NodeSha256), checked against
 * AWS's published SigV4 test suite (aws-sig-v4-test-suite): `get-vanilla` and `post-vanilla`,
 * credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service `service`.
 */
import { describe, expect, it } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from './nodeSha256.ts';

const signer = new SignatureV4({
  service: 'service',
  region: 'us-east-1',
  credentials: {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  },
  sha256: NodeSha256,
  // The suite's canonical requests carry no x-amz-content-sha256.
  applyChecksum: false,
});

const scope = 'Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';

describe('SigV4 on NodeSha256', () => {
  it.each([
    ['GET', 'get-vanilla', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['POST', 'post-vanilla', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ])('signs %s as the %s vector says', async (method, _vector, signature) => {
    const signed = await signer.sign(
      {
        method,
        protocol: 'https:',
        hostname: 'example.amazonaws.com',
        path: '/',
        query: {},
        headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
      },
      { signingDate: new Date('2015-08-30T12:36:00Z') },
    );
    expect(signed.headers.authorization).toBe(
      `AWS4-HMAC-SHA256 ${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    );
  });

  it('hashes and keys as node:crypto does, reset included', async () => {
    const hash = new NodeSha256();
    hash.update(new TextEncoder().encode('abc'));
    expect(Buffer.from(await hash.digest()).toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    hash.reset();
    expect(Buffer.from(await hash.digest()).toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('keys HMAC-SHA-256 as RFC 4231 says, the same again from the kept key', async () => {
    for (let i = 0; i < 2; i++) {
      const hmac = new NodeSha256('Jefe');
      hmac.update(new TextEncoder().encode('what do ya want for nothing?'));
      expect(Buffer.from(await hmac.digest()).toString('hex')).toBe(
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      );
    }
  });
});

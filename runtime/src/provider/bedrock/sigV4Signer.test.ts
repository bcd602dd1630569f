import { describe, expect, it } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../../../platform/src/crypto/nodeSha256.ts';
import { SigV4Signer } from './sigV4Signer.ts';

/** AWS's published SigV4 test suite (aws-sig-v4-test-suite): its credentials, time and scope. */
const SUITE = {
  credentials: {
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  },
  now: new Date('2015-08-30T12:36:00Z'),
  scope: 'Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request',
};

describe('SigV4Signer', () => {
  it.each([
    ['GET', 'get-vanilla', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['POST', 'post-vanilla', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ])('signs %s as the %s vector says', (method, _vector, signature) => {
    const signer = new SigV4Signer({
      service: 'service',
      region: 'us-east-1',
      contentHashHeader: false,
    });
    const signed = signer.sign(
      { method, path: '/', headers: { host: 'example.amazonaws.com' }, body: '' },
      SUITE.credentials,
      SUITE.now,
    );
    expect(signed['x-amz-date']).toBe('20150830T123600Z');
    expect(signed.authorization).toBe(
      `AWS4-HMAC-SHA256 ${SUITE.scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    );
  });

  const model = encodeURIComponent('us.anthropic.claude-sonnet-4-5-20250929-v1:0');
  const cases: [string, { path: string; headers: Record<string, string>; session?: string }][] = [
    [
      'a stream request as the Bedrock wire sends it',
      {
        path: `/model/${model}/invoke-with-response-stream`,
        headers: { accept: 'application/vnd.amazon.eventstream' },
      },
    ],
    [
      'temporary credentials, with their session token',
      { path: `/model/${model}/invoke`, headers: {}, session: 'FwoGZXIvYXdzEJr//token+/=' },
    ],
    [
      'a base path with empty, "." and ".." segments and characters escaped twice',
      { path: `//vpce/./x/../bedrock (eu)!/model/${model}/count-tokens/`, headers: {} },
    ],
    [
      'trace headers, values with runs of spaces, tabs and line breaks',
      {
        path: `/model/${model}/invoke`,
        headers: {
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
          'x-note': '  two   spaces\tand\ta\r\nbreak ',
        },
      },
    ],
    [
      'headers the AWS SDKs never sign',
      {
        path: `/model/${model}/invoke`,
        headers: {
          'user-agent': 'breakwater',
          'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
          'proxy-authorization': 'Basic x',
          'sec-fetch-mode': 'cors',
          connection: 'keep-alive',
        },
      },
    ],
  ];

  it.each(cases)(
    'signs %s exactly as @smithy/signature-v4 does',
    async (_name, { path, headers, session }) => {
      const credentials = {
        accessKeyId: 'AKIDBREAKWATER',
        secretAccessKey: 'secret/with+chars=',
        ...(session === undefined ? {} : { sessionToken: session }),
      };
      const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 8 });
      const all = {
        host: 'bedrock-runtime.eu-west-1.amazonaws.com',
        'content-type': 'application/json',
        ...headers,
      };
      const reference = new SignatureV4({
        service: 'bedrock',
        region: 'eu-west-1',
        credentials,
        sha256: NodeSha256,
      });
      const ours = new SigV4Signer({ service: 'bedrock', region: 'eu-west-1' });
      // Two days: the kept signing key must follow the date.
      for (const now of [new Date('2026-11-23T23:59:59Z'), new Date('2026-11-24T00:00:01Z')]) {
        const expected = await reference.sign(
          {
            method: 'POST',
            protocol: 'https:',
            hostname: all.host,
            path,
            query: {},
            headers: all,
            body,
          },
          { signingDate: now },
        );
        expect(ours.sign({ method: 'POST', path, headers: all, body }, credentials, now)).toEqual(
          expected.headers,
        );
      }
    },
  );

  it('keys the next request with a rotated secret, not the kept signing key', () => {
    const signer = new SigV4Signer({ service: 'bedrock', region: 'us-east-1' });
    const request = { method: 'POST', path: '/model/m/invoke', headers: { host: 'h' }, body: '{}' };
    const now = new Date('2026-11-23T12:00:00Z');
    const first = signer.sign(request, { accessKeyId: 'A', secretAccessKey: 'one' }, now);
    const rotated = signer.sign(request, { accessKeyId: 'A', secretAccessKey: 'two' }, now);
    const again = signer.sign(request, { accessKeyId: 'A', secretAccessKey: 'one' }, now);
    expect(rotated.authorization).not.toBe(first.authorization);
    expect(again.authorization).toBe(first.authorization);
  });
});

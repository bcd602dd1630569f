import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PORT, parseCli, USAGE } from './cliOptions.ts';
import { DEFAULT_PACING } from './streamPacing.ts';

describe('parseCli', () => {
  it('defaults to loopback, the default port, no latency, paced streams and no limits', () => {
    expect(parseCli([], {})).toEqual({
      kind: 'options',
      options: {
        host: '127.0.0.1',
        port: DEFAULT_PORT,
        latencyMs: 0,
        pacing: DEFAULT_PACING,
        seed: undefined,
        limits: {
          requestsPerMinute: undefined,
          inputTokensPerMinute: undefined,
          outputTokensPerMinute: undefined,
        },
        apiKey: undefined,
        awsCredentials: [],
        vertexServiceAccounts: [],
      },
    });
  });

  it('reads every flag', () => {
    const args = [
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--latency-ms',
      '25',
      '--first-token-ms',
      '0',
      '--event-gap-ms',
      '5',
      '--whole-events',
      '--seed',
      '7',
      '--rpm',
      '50',
      '--input-tpm',
      '40000',
      '--output-tpm',
      '8000',
      '--api-key',
      'k',
      '--aws-credentials',
      'AKID1:secret1',
      '--aws-credentials',
      'AKID2:secret2:token2',
      '--vertex-service-account',
      'sa.json',
      '--vertex-service-account',
      'other@p.iam.gserviceaccount.com=other.pem',
      '--vertex-token-ttl-seconds',
      '30',
      '--cache-min-tokens',
      '1',
      '--cache-ttl-ms',
      '2000',
      '--search-result-tokens',
      '0',
    ];
    const files: Record<string, string> = {
      'sa.json': JSON.stringify({
        client_email: 'sa@p.iam.gserviceaccount.com',
        private_key: 'PRIVATE',
      }),
      'other.pem': 'PUBLIC',
    };
    expect(parseCli(args, {}, (path) => files[path] ?? '')).toEqual({
      kind: 'options',
      options: {
        host: '0.0.0.0',
        port: 0,
        latencyMs: 25,
        pacing: { firstTokenMs: 0, eventGapMs: 5, wholeEvents: true },
        seed: 7,
        limits: { requestsPerMinute: 50, inputTokensPerMinute: 40000, outputTokensPerMinute: 8000 },
        apiKey: 'k',
        cacheMinTokens: 1,
        cacheTtlMs: 2000,
        searchResultTokens: 0,
        awsCredentials: [
          { accessKeyId: 'AKID1', secretAccessKey: 'secret1' },
          { accessKeyId: 'AKID2', secretAccessKey: 'secret2', sessionToken: 'token2' },
        ],
        vertexServiceAccounts: [
          {
            clientEmail: 'sa@p.iam.gserviceaccount.com',
            publicKey: 'PRIVATE',
            tokenTtlSeconds: 30,
          },
          {
            clientEmail: 'other@p.iam.gserviceaccount.com',
            publicKey: 'PUBLIC',
            tokenTtlSeconds: 30,
          },
        ],
      },
    });
  });

  it('accepts the AWS credentials of the standard environment variables', () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' };
    expect(parseCli([], env)).toMatchObject({
      kind: 'options',
      options: {
        awsCredentials: [{ accessKeyId: 'AKID', secretAccessKey: 's', sessionToken: 't' }],
      },
    });
  });

  it.each([
    ['takes PORT_HTTP when --port is not given', [], { PORT_HTTP: '9100' }, 9100],
    ['prefers --port over PORT_HTTP', ['--port', '9200'], { PORT_HTTP: '9100' }, 9200],
  ])('%s', (_name, args, env, port) => {
    expect(parseCli(args, env)).toMatchObject({ kind: 'options', options: { port } });
  });

  it.each<[string, string[], string, Record<string, string>?]>([
    ['an unknown flag', ['--bogus'], 'bogus'],
    ['a PORT_HTTP that is not a port', [], 'PORT_HTTP', { PORT_HTTP: 'http' }],
    ['a port out of range', ['--port', '70000'], '--port'],
    ['a negative latency', ['--latency-ms', '-5'], '--latency-ms'],
    ['a first-token pause that is not a number', ['--first-token-ms', 'soon'], '--first-token-ms'],
    ['a negative event gap', ['--event-gap-ms', '-1'], '--event-gap-ms'],
    ['a value given to --whole-events', ['--whole-events=yes'], 'whole-events'],
    [
      'the retired --delta-delay-ms, with its replacement',
      ['--delta-delay-ms', '5'],
      '--event-gap-ms',
    ],
    ['a zero budget', ['--rpm', '0'], '--rpm'],
    ['a budget that is not a number', ['--input-tpm', 'lots'], '--input-tpm'],
    ['AWS credentials without a secret', ['--aws-credentials', 'AKID'], '--aws-credentials'],
    ['a token lifetime of 0', ['--vertex-token-ttl-seconds', '0'], '--vertex-token-ttl-seconds'],
    ['a cache minimum of 0', ['--cache-min-tokens', '0'], '--cache-min-tokens'],
    ['a cache lifetime over an hour', ['--cache-ttl-ms', '3600001'], '--cache-ttl-ms'],
    [
      'a service-account file that is not JSON',
      ['--vertex-service-account', '/nonexistent/sa.json'],
      '--vertex-service-account',
    ],
  ])('refuses %s, naming it', (_name, args, named, env = {}) => {
    const result = parseCli(args, env);
    expect(result.kind).toBe('error');
    if (result.kind === 'error') expect(result.message).toContain(named);
  });

  it('asks for help', () => {
    expect(parseCli(['--help'], {})).toEqual({ kind: 'help' });
  });

  it.each(['--first-token-ms', '--event-gap-ms', '--whole-events'])(
    'explains %s in --help',
    (flag) => {
      expect(USAGE).toContain(flag);
    },
  );
});

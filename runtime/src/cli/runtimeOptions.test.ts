import { describe, expect, it } from '@jest/globals';
import { parseRuntimeCli } from './runtimeOptions.ts';

describe('parseRuntimeCli', () => {
  it('takes ports from PORT_HTTP and PORT_METRICS when no flag is given', () => {
    const cli = parseRuntimeCli(['--policy', 'p.json'], {
      PORT_HTTP: '1234',
      PORT_METRICS: '5678',
    });
    expect(cli).toMatchObject({ kind: 'options', options: { port: 1234, metricsPort: 5678 } });
  });

  it('defaults to cluster mode from BREAKWATER_AGENT and POD_NAMESPACE', () => {
    const cli = parseRuntimeCli([], { BREAKWATER_AGENT: 'support', POD_NAMESPACE: 'prod' });
    expect(cli).toMatchObject({
      kind: 'options',
      options: { source: { kind: 'cluster', agent: 'support', namespace: 'prod' } },
    });
  });

  it('reads the client keys from the directory BREAKWATER_CLIENT_KEYS_DIR names, in cluster mode', () => {
    const cli = parseRuntimeCli(['--agent', 'support'], {
      BREAKWATER_CLIENT_KEYS_DIR: '/var/run/secrets/breakwater.dev/client-keys',
    });
    expect(cli).toMatchObject({
      kind: 'options',
      options: {
        source: { kind: 'cluster', clientKeysDir: '/var/run/secrets/breakwater.dev/client-keys' },
      },
    });
  });

  it('mounts no client keys unless told', () => {
    const cli = parseRuntimeCli(['--agent', 'support'], { BREAKWATER_CLIENT_KEYS_DIR: '' });
    expect(cli.kind === 'options' && cli.options.source).toEqual({
      kind: 'cluster',
      agent: 'support',
      namespace: 'default',
    });
  });

  it('picks one AgentDeployment of the manifests with --agent', () => {
    const cli = parseRuntimeCli(['--manifests', 'config/samples', '--agent', 'assistant'], {
      BREAKWATER_AGENT: 'other',
    });
    expect(cli).toMatchObject({
      kind: 'options',
      options: { source: { kind: 'manifests', path: 'config/samples', agent: 'assistant' } },
    });
  });

  it('leaves the choice to the manifests without --agent, whatever BREAKWATER_AGENT says', () => {
    const cli = parseRuntimeCli(['--manifests', 'm.yaml'], { BREAKWATER_AGENT: 'other' });
    expect(cli).toMatchObject({
      kind: 'options',
      options: { source: { kind: 'manifests', path: 'm.yaml' } },
    });
  });

  it('serves on for no drain delay after SIGTERM unless told to', () => {
    expect(parseRuntimeCli(['--policy', 'p'], {})).toMatchObject({
      options: { drainDelayMs: 0, shutdownGraceMs: 25_000 },
    });
    expect(
      parseRuntimeCli(['--policy', 'p', '--drain-delay-ms=5000', '--shutdown-grace-ms=93000'], {}),
    ).toMatchObject({ options: { drainDelayMs: 5_000, shutdownGraceMs: 93_000 } });
  });

  it("pins conversations for the provider's five minutes unless told a shorter cache lifetime", () => {
    expect(parseRuntimeCli(['--policy', 'p'], {})).toMatchObject({
      options: { promptCacheTtlMs: 300_000 },
    });
    expect(parseRuntimeCli(['--policy', 'p', '--prompt-cache-ttl-ms=2000'], {})).toMatchObject({
      options: { promptCacheTtlMs: 2_000 },
    });
  });

  it.each([
    [['--policy', 'p', '--drain-delay-ms', '5s'], /--drain-delay-ms/],
    [['--policy', 'p', '--prompt-cache-ttl-ms', '0'], /--prompt-cache-ttl-ms/],
    [['--policy', 'p', '--agent', 'a'], /--policy and --agent/],
    [['--manifests', 'm', '--agent', 'Bad_Name'], /--agent/],
    [['--policy', 'p', '--port', 'http'], /--port/],
    [['--policy', 'p', '--metrics-port', '70000'], /--metrics-port/],
    [['--policy', 'p', '--manifests', 'm'], /--policy and --manifests/],
    [['--policy', 'p', '--log-level', 'loud'], /--log-level/],
    [[], /no policy source/],
    [['--agent', 'Bad_Name'], /--agent/],
    [['--bogus'], /bogus/],
    [['--policy', 'p', '--client-keys-dir', '/k'], /--client-keys-dir is for cluster mode/],
    [['--agent', 'a', '--client-keys-dir', ''], /--client-keys-dir needs a directory/],
  ])('refuses %j naming the flag', (argv, message) => {
    const cli = parseRuntimeCli(argv, {});
    expect(cli.kind).toBe('error');
    expect(cli.kind === 'error' ? cli.message : '').toMatch(message);
  });
});

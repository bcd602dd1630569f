import { describe, expect, it } from '@jest/globals';
import {
  buildEnvironment,
  fieldValue,
  referencedSources,
  type ConfigSources,
  type EnvironmentInput,
} from './envResolution.ts';
import type { ConfigMap, Container, EnvVar, Pod, Secret } from './podTypes.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

function pod(overrides: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: {
      name: 'agent-7d9f',
      namespace: 'team-a',
      uid: 'uid-1',
      labels: { app: 'agent', tier: 'web' },
      annotations: { owner: 'sre' },
      ...overrides,
    },
    spec: { nodeName: 'local-node', serviceAccountName: 'agent', containers: [] },
  };
}

const secret = (data: Record<string, string>): Secret => ({
  metadata: { name: 's' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
const configMap = (data: Record<string, string>): ConfigMap => ({ metadata: { name: 'c' }, data });

function sources(
  secrets: Record<string, Secret> = {},
  configMaps: Record<string, ConfigMap> = {},
): ConfigSources {
  return {
    secrets: new Map(Object.entries(secrets)),
    configMaps: new Map(Object.entries(configMaps)),
  };
}

function input(
  container: Partial<Container>,
  extra: Partial<EnvironmentInput> = {},
): EnvironmentInput {
  return {
    pod: pod(),
    container: { name: 'main', ...container },
    ports: {},
    podIP: '127.0.0.1',
    sources: sources(),
    ...extra,
  };
}

function envOf(result: ReturnType<typeof buildEnvironment>): Record<string, string> {
  if (!result.ok) throw new Error(result.message);
  return Object.fromEntries(result.env);
}

const field = (name: string, fieldPath: string): EnvVar => ({
  name,
  valueFrom: { fieldRef: { fieldPath } },
});

describe('buildEnvironment', () => {
  it('sets plain values', () => {
    expect(envOf(buildEnvironment(input({ env: [{ name: 'A', value: '1' }] })))).toEqual({
      A: '1',
    });
  });

  it('expands references to variables defined earlier, and leaves later ones alone', () => {
    const env = [
      { name: 'HOST', value: 'db' },
      { name: 'URL', value: 'postgres://$(HOST):$(PORT)' },
      { name: 'PORT', value: '5432' },
    ];
    expect(envOf(buildEnvironment(input({ env }))).URL).toBe('postgres://db:$(PORT)');
  });

  it.each([
    ['metadata.name', 'agent-7d9f'],
    ['metadata.namespace', 'team-a'],
    ['metadata.uid', 'uid-1'],
    ['spec.nodeName', 'local-node'],
    ['spec.serviceAccountName', 'agent'],
    ['status.podIP', '127.0.0.1'],
    ['status.hostIP', '127.0.0.1'],
    ["metadata.labels['tier']", 'web'],
    ["metadata.annotations['owner']", 'sre'],
    ["metadata.labels['missing']", ''],
  ])('resolves fieldRef %s', (fieldPath, expected) => {
    expect(envOf(buildEnvironment(input({ env: [field('V', fieldPath)] }))).V).toBe(expected);
  });

  it('formats all labels like the downward API', () => {
    expect(fieldValue(pod(), 'metadata.labels', '127.0.0.1')).toBe('app="agent"\ntier="web"');
  });

  it('refuses a fieldRef it cannot resolve, naming the variable and the path', () => {
    const result = buildEnvironment(input({ env: [field('LIMIT', 'spec.priority')] }));
    expect(result).toEqual({
      ok: false,
      message: 'env LIMIT: fieldRef spec.priority is not supported by the local node',
    });
  });

  it('decodes Secret values and reads ConfigMap values', () => {
    const env: EnvVar[] = [
      { name: 'KEY', valueFrom: { secretKeyRef: { name: 'creds', key: 'api-key' } } },
      { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode' } } },
    ];
    const result = buildEnvironment(
      input(
        { env },
        {
          sources: sources(
            { creds: secret({ 'api-key': 'sk-123' }) },
            { settings: configMap({ mode: 'fast' }) },
          ),
        },
      ),
    );
    expect(envOf(result)).toEqual({ KEY: 'sk-123', MODE: 'fast' });
  });

  it.each([
    [
      'a missing Secret',
      { name: 'K', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } },
      'secret "creds" not found',
    ],
    [
      'a missing Secret key',
      { name: 'K', valueFrom: { secretKeyRef: { name: 'present', key: 'nope' } } },
      "couldn't find key nope in Secret team-a/present",
    ],
    [
      'a missing ConfigMap',
      { name: 'K', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } },
      'configmap "settings" not found',
    ],
    [
      'a missing ConfigMap key',
      { name: 'K', valueFrom: { configMapKeyRef: { name: 'present', key: 'nope' } } },
      "couldn't find key nope in ConfigMap team-a/present",
    ],
  ])('fails on %s with kubelet’s message', (_name, variable: EnvVar, message) => {
    const result = buildEnvironment(
      input(
        { env: [variable] },
        { sources: sources({ present: secret({}) }, { present: configMap({}) }) },
      ),
    );
    expect(result).toEqual({ ok: false, message });
  });

  it('skips optional references that do not resolve', () => {
    const env: EnvVar[] = [
      { name: 'A', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } },
      { name: 'B', valueFrom: { configMapKeyRef: { name: 'c', key: 'nope', optional: true } } },
    ];
    const result = buildEnvironment(input({ env }, { sources: sources({}, { c: configMap({}) }) }));
    expect(envOf(result)).toEqual({});
  });

  it('imports envFrom sources with their prefix, and lets env override them', () => {
    const result = buildEnvironment(
      input(
        {
          envFrom: [
            { configMapRef: { name: 'bulk' }, prefix: 'CFG_' },
            { secretRef: { name: 'creds' } },
          ],
          env: [{ name: 'TOKEN', value: 'from-env' }],
        },
        {
          sources: sources(
            { creds: secret({ TOKEN: 'from-secret', USER: 'u' }) },
            { bulk: configMap({ ONE: '1' }) },
          ),
        },
      ),
    );
    expect(envOf(result)).toEqual({ CFG_ONE: '1', TOKEN: 'from-env', USER: 'u' });
  });

  it('sets PORT_<NAME> for every allocated port, over any value in the spec', () => {
    const result = buildEnvironment(
      input(
        {
          env: [
            { name: 'PORT_HTTP', value: '8080' },
            { name: 'URL', value: 'http://127.0.0.1:$(PORT_HTTP)' },
          ],
        },
        { ports: { http: 41234, 'admin-api': 41235 } },
      ),
    );
    expect(envOf(result)).toEqual({
      PORT_HTTP: '41234',
      PORT_ADMIN_API: '41235',
      URL: 'http://127.0.0.1:41234',
    });
  });
});

describe('referencedSources', () => {
  it('lists every Secret and ConfigMap a container reads', () => {
    const refs = referencedSources({
      name: 'main',
      envFrom: [{ secretRef: { name: 's1' } }, { configMapRef: { name: 'c1' } }],
      env: [
        { name: 'A', valueFrom: { secretKeyRef: { name: 's2', key: 'k' } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'c1', key: 'k' } } },
      ],
    });
    expect({ secrets: [...refs.secrets], configMaps: [...refs.configMaps] }).toEqual({
      secrets: ['s1', 's2'],
      configMaps: ['c1'],
    });
  });
});

/**
 * The API as the API server serves it: the CRDs install and become Established, the samples
 * apply and read back, and kubectl shows the printer columns and the field descriptions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { inlineReferences, loadSchemaSet } from '../../scripts/crdgen/schemaSet.ts';
import type { JsonSchema } from '../../scripts/crdgen/schemaSet.ts';
import { kubectl, uniqueNamespace } from '../support/kube.ts';
import type { TestNamespace } from '../support/kube.ts';
import { crdNames, installCrds, repoRoot } from './apiInstallation.ts';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
}

const samplesDir = join(repoRoot, 'config/samples');
const samples: [string, Manifest][] = readdirSync(samplesDir)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(samplesDir, file), 'utf8')).map(
      (doc) => [file, doc.toJS() as Manifest] as [string, Manifest],
    ),
  );
const sampleOf = (kind: string, name: string): Manifest => {
  const found = samples.find(([, m]) => m.kind === kind && m.metadata.name === name)?.[1];
  if (found === undefined) throw new Error(`no sample ${kind}/${name}`);
  return found;
};

async function getJson<T>(namespace: string, resource: string): Promise<T> {
  const { stdout } = await kubectl(['get', '-n', namespace, resource, '-o', 'json']);
  return JSON.parse(stdout) as T;
}

/** kubectl's table output as rows of cells (the header first). */
function tableRows(output: string): string[][] {
  return output
    .trim()
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.trim().split(/\s{2,}/));
}

const squash = (text: string): string => text.replace(/\s+/g, ' ').trim();

let ns: TestNamespace;

beforeAll(async () => {
  await installCrds();
  ns = await uniqueNamespace('api-samples');
  await kubectl(['apply', '--server-side', '-n', ns.name, '-k', samplesDir]);
});

afterAll(async () => {
  await ns.cleanup();
});

describe('the CRDs', () => {
  it.each(crdNames)('%s is Established with its names accepted', async (name) => {
    const crd = await getJson<{
      spec: { names: unknown };
      status: { conditions: { type: string; status: string }[]; acceptedNames: unknown };
    }>('default', `crd/${name}`);
    const status = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
    expect(status).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
    expect(crd.status.acceptedNames).toEqual(crd.spec.names);
  });

  it('lists every kind under the breakwater category', async () => {
    const { stdout } = await kubectl(['get', 'breakwater', '-n', ns.name, '-o', 'name']);
    expect(stdout.trim().split('\n').sort()).toEqual([
      'agentdeployment.breakwater.dev/assistant-development',
      'agentdeployment.breakwater.dev/assistant-production',
      'agentdeployment.breakwater.dev/assistant-providers',
      'circuitbreakerpolicy.breakwater.dev/development',
      'circuitbreakerpolicy.breakwater.dev/production',
      'ratelimitpolicy.breakwater.dev/development',
      'ratelimitpolicy.breakwater.dev/production',
    ]);
  });
});

describe('the samples', () => {
  it.each(samples.map(([file, manifest]) => [file, manifest.kind, manifest] as const))(
    '%s (%s) applies with server-side apply and reads back as written',
    async (_, kind, manifest) => {
      const stored = await getJson<Manifest & { data?: Record<string, string> }>(
        ns.name,
        `${kind.toLowerCase()}/${manifest.metadata.name}`,
      );
      if (kind === 'Secret') {
        const decoded = Object.fromEntries(
          Object.entries(stored.data ?? {}).map(([k, v]) => [
            k,
            Buffer.from(v, 'base64').toString(),
          ]),
        );
        expect(decoded).toEqual(manifest.stringData);
      } else {
        // The server adds defaults; everything the sample says must come back unchanged.
        expect(stored.spec).toMatchObject(manifest.spec ?? {});
      }
    },
  );

  it('apply again without changing anything', async () => {
    const before = await getJson<{ items: { metadata: { generation: number } }[] }>(
      ns.name,
      'agd,cbp,rlp',
    );
    await kubectl(['apply', '--server-side', '-n', ns.name, '-k', samplesDir]);
    const after = await getJson<typeof before>(ns.name, 'agd,cbp,rlp');
    expect(after.items.map((item) => item.metadata.generation)).toEqual(
      before.items.map((item) => item.metadata.generation),
    );
  });

  it.each([
    ['CircuitBreakerPolicy', 'development', { failureThreshold: 10, openDuration: '30s' }],
    ['CircuitBreakerPolicy', 'production', { failureThreshold: 5, openDuration: '60s' }],
    [
      'RateLimitPolicy',
      'development',
      {
        requests: { perSecond: 5, burst: 50 },
        concurrency: { maxConcurrent: 5, queueTimeout: '10s' },
      },
    ],
    [
      'RateLimitPolicy',
      'production',
      {
        requests: { perSecond: 20, burst: 200 },
        concurrency: { maxConcurrent: 100, queueTimeout: '5s' },
      },
    ],
  ])('preset %s %s holds the numbers the presets promise', (kind, name, expected) => {
    expect(sampleOf(kind, name).spec).toMatchObject(expected);
  });

  it.each([{ preset: 'development' }, { preset: 'production' }])(
    'agent assistant-$preset uses the $preset policy pair',
    ({ preset }) => {
      expect(sampleOf('AgentDeployment', `assistant-${preset}`).spec).toMatchObject({
        circuitBreakerPolicyRef: { name: preset },
        rateLimitPolicyRef: { name: preset },
      });
    },
  );
});

describe('kubectl get', () => {
  it('shows the printer columns of each kind', async () => {
    const { stdout } = await kubectl(['get', 'agd,cbp,rlp', '-n', ns.name]);
    const headers = stdout
      .split('\n\n')
      .map((table) => tableRows(table)[0]?.join(' '))
      .sort();
    expect(headers).toEqual([
      'NAME READY MODEL BREAKER RETIRES AGE',
      'NAME RPS BURST SCOPE PER-REPLICA SPENT RESETS AGE',
      'NAME STATE OPEN TRIPS LAST-TRIP OVERRIDE AGE',
    ]);
  });

  it('fills the spec columns from the sample', async () => {
    const { stdout } = await kubectl(['get', 'rlp', 'production', '-n', ns.name]);
    expect(tableRows(stdout)[1]?.slice(0, 4)).toEqual(['production', '20', '200', 'Cluster']);
    const agents = await kubectl(['get', 'agd', 'assistant-production', '-n', ns.name]);
    expect(tableRows(agents.stdout)[1]).toContain(PRIMARY_MODEL);
  });

  it.each([
    [
      'cbp/production',
      { state: 'Degraded', openSummary: '1/3', trips: 4 },
      ['production', 'Degraded', '1/3', '4'],
    ],
    [
      'agd/assistant-development',
      { readySummary: '2/3', breaker: { state: 'HalfOpen', open: 0, total: 3 } },
      ['assistant-development', '2/3', FALLBACK_MODEL, 'HalfOpen'],
    ],
    [
      'rlp/production',
      { effective: { replicas: 4, requestsPerSecond: 5, burst: 50 } },
      ['production', '20', '200', 'Cluster', '5'],
    ],
  ])(
    'fills the status columns of %s from its status subresource',
    async (resource, status, cells) => {
      await kubectl([
        'patch',
        resource,
        '-n',
        ns.name,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify({ status }),
      ]);
      const { stdout } = await kubectl(['get', resource, '-n', ns.name]);
      expect(tableRows(stdout)[1]?.slice(0, cells.length)).toEqual(cells);
    },
  );

  it('shows each backend in the BACKENDS column only with -o wide', async () => {
    const backends = [
      { name: 'anthropic', type: 'Anthropic', state: 'Open', openReplicas: 3, replicas: 3 },
      { name: 'bedrock-us', type: 'Bedrock', state: 'Closed', openReplicas: 0, replicas: 3 },
    ];
    const summary = 'anthropic Open 3/3, bedrock-us Closed 0/3';
    await kubectl([
      'patch',
      'agd/assistant-development',
      '-n',
      ns.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { backends, backendSummary: summary } }),
    ]);
    const wide = await kubectl(['get', 'agd/assistant-development', '-n', ns.name, '-o', 'wide']);
    expect(tableRows(wide.stdout)[0]).toContain('BACKENDS');
    expect(squash(wide.stdout)).toContain(squash(summary));
    const narrow = await kubectl(['get', 'agd/assistant-development', '-n', ns.name]);
    expect(tableRows(narrow.stdout)[0]).not.toContain('BACKENDS');
  });
});

describe('the MCP column', () => {
  it('shows each MCP server in the MCP column only with -o wide', async () => {
    const mcpServers = [
      { name: 'github', reachable: 3, replicas: 3, tools: 12, openToolBreakers: 1 },
      {
        name: 'search',
        reachable: 0,
        replicas: 3,
        tools: 0,
        openToolBreakers: 0,
        lastError: 'connect ECONNREFUSED',
      },
    ];
    const summary =
      'github reachable 3/3, 12 tools, 1 tool breaker open; search reachable 0/3, 0 tools';
    await kubectl([
      'patch',
      'agd/assistant-development',
      '-n',
      ns.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { mcpServers, mcpSummary: summary } }),
    ]);
    const wide = await kubectl(['get', 'agd/assistant-development', '-n', ns.name, '-o', 'wide']);
    expect(tableRows(wide.stdout)[0]).toContain('MCP');
    expect(squash(wide.stdout)).toContain(squash(summary));
    const narrow = await kubectl(['get', 'agd/assistant-development', '-n', ns.name]);
    expect(tableRows(narrow.stdout)[0]).not.toContain('MCP');
  });
});

describe('the scale subresource', () => {
  it('scales an agent with kubectl scale and reports the status selector', async () => {
    await kubectl(['scale', 'agd/assistant-development', '-n', ns.name, '--replicas=3']);
    await kubectl([
      'patch',
      'agd/assistant-development',
      '-n',
      ns.name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: { replicas: 1, selector: 'breakwater.dev/agent=assistant-development' },
      }),
    ]);
    const scale = JSON.parse(
      (
        await kubectl([
          'get',
          '--raw',
          `/apis/breakwater.dev/v1alpha1/namespaces/${ns.name}/agentdeployments/assistant-development/scale`,
        ])
      ).stdout,
    ) as { spec: { replicas: number }; status: { replicas: number; selector: string } };
    expect(scale.spec.replicas).toBe(3);
    expect(scale.status).toEqual({
      replicas: 1,
      selector: 'breakwater.dev/agent=assistant-development',
    });
  });

  it('refuses to scale an autoscaled agent, naming spec.replicas', async () => {
    const result = await kubectl(
      ['scale', 'agd/assistant-production', '-n', ns.name, '--replicas=3'],
      { allowFailure: true },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.replicas');
  });
});

describe('kubectl explain', () => {
  const set = loadSchemaSet(join(repoRoot, 'crds/schemas'));
  const specOf = (kind: string): JsonSchema => {
    const found = set.kinds.find((k) => k.crd.kind === kind);
    if (found === undefined) throw new Error(`no schema for ${kind}`);
    const spec = inlineReferences(set, found.schema, found.file).properties?.['spec'];
    if (spec === undefined) throw new Error(`${kind} has no spec`);
    return spec;
  };

  it.each([
    ['agentdeployment.spec.model', 'AgentDeployment', 'model'],
    ['circuitbreakerpolicy.spec.failureRate', 'CircuitBreakerPolicy', 'failureRate'],
    ['ratelimitpolicy.spec.concurrency', 'RateLimitPolicy', 'concurrency'],
    ['agentdeployment.spec.autoscaling', 'AgentDeployment', 'autoscaling'],
    ['circuitbreakerpolicy.spec.loopDetection', 'CircuitBreakerPolicy', 'loopDetection'],
  ])('explains %s with the descriptions from the schema', async (path, kind, field) => {
    const schema = specOf(kind).properties?.[field];
    const { stdout } = await kubectl(['explain', path]);
    const shown = squash(stdout);
    const expected = [
      schema?.description ?? '',
      ...Object.values(schema?.properties ?? {}).map((child) => child.description ?? ''),
    ];
    expect(expected.filter((text) => !shown.includes(squash(text)))).toEqual([]);
  });

  it.each(['type', 'priority', 'region', 'projectID', 'credentialsSecretRef', 'models'])(
    'explains agentdeployment.spec.backends.%s with its description from the schema',
    async (field) => {
      const description =
        specOf('AgentDeployment').properties?.['backends']?.items?.properties?.[field]
          ?.description ?? '';
      expect(description).not.toBe('');
      const { stdout } = await kubectl(['explain', `agentdeployment.spec.backends.${field}`]);
      expect(squash(stdout)).toContain(squash(description));
    },
  );

  it('explains agentdeployment.spec.mcpServers and each of its fields with the descriptions from the schema', async () => {
    const schema = specOf('AgentDeployment').properties?.['mcpServers'];
    const fields = schema?.items?.properties ?? {};
    expect(Object.keys(fields).sort()).toEqual(
      [
        'circuitBreakerPolicyRef',
        'headersSecretRef',
        'maxConcurrent',
        'name',
        'onUnknownOutcome',
        'timeout',
        'tools',
        'url',
      ].sort(),
    );
    const { stdout } = await kubectl(['explain', 'agentdeployment.spec.mcpServers']);
    const shown = squash(stdout);
    const expected = [
      schema?.description ?? '',
      ...Object.values(fields).map((child) => child.description ?? ''),
    ];
    expect(expected.filter((text) => text === '' || !shown.includes(squash(text)))).toEqual([]);
  });

  it.each([
    ['agentdeployment.spec.agent', ['agent']],
    ['agentdeployment.spec.agent.securityContext', ['agent', 'securityContext']],
    ['agentdeployment.spec.agent.readinessProbe', ['agent', 'readinessProbe']],
    ['agentdeployment.spec.podTemplate.volumes', ['podTemplate', 'volumes']],
  ])(
    'explains %s and each of its fields with the descriptions from the schema',
    async (path, at) => {
      let schema: JsonSchema | undefined = specOf('AgentDeployment');
      for (const key of at) schema = schema?.properties?.[key] ?? schema?.items?.properties?.[key];
      const fields = schema?.properties ?? schema?.items?.properties ?? {};
      expect(Object.keys(fields).length).toBeGreaterThan(2);
      const { stdout } = await kubectl(['explain', path]);
      const shown = squash(stdout);
      const expected = [
        schema?.description ?? '',
        ...Object.values(fields).map((child) => child.description ?? ''),
      ];
      expect(expected.filter((text) => text === '' || !shown.includes(squash(text)))).toEqual([]);
    },
  );
});

/**
 * One way in: the operator's lookup over its caches, a folder of manifests and one manifest
 * file all go through `gatherAgentInputs`, and on a corpus that uses every reference the API
 * has they resolve the same document, byte for byte. The schema is walked for reference
 * fields, so a reference the API gains without the gather step learning it fails here.
 * (test/operator/everySource.test.ts does the same through the real operator and runtime.)
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CircuitBreakerPolicy, RateLimitPolicy } from '../contract/src/api/resources.ts';
import { agentReferences, gatherAgentInputs } from '../contract/src/policy/policyGather.ts';
import { canonicalJson, type PolicyDocument } from '../contract/src/policy/policyDocument.ts';
import { resolvePolicy } from '../contract/src/policy/policyResolution.ts';
import {
  corpusObjects,
  everyReferenceCorpus,
  type Corpus,
} from '../contract/src/policy/referenceFixtures.ts';
import { clusterLookup } from '../operator/src/controller/agentReconciler.ts';
import { ManifestSource } from '../runtime/src/policy/manifestSource.ts';
import { PolicyFileSource } from '../runtime/src/policy/policyFileSource.ts';
import { PolicyStore } from '../runtime/src/policy/policyStore.ts';
import type { PolicyIntake } from '../runtime/src/policy/sourceDeps.ts';
import { createLogger } from '../runtime/src/telemetry/logger.ts';
import { ManualClock } from './support/manualClock.ts';

const corpus = everyReferenceCorpus({
  providerURL: 'http://127.0.0.1:8787',
  mcpURL: 'http://127.0.0.1:8788/mcp',
});

/** The operator's path: its lookup over caches keyed `namespace/name`, and one ConfigMap read. */
async function operatorDocument(c: Corpus): Promise<PolicyDocument> {
  const byKey = <T extends { metadata: { name?: string } }>(...items: T[]) =>
    new Map(items.map((i) => [`default/${i.metadata.name ?? ''}`, i]));
  const lookup = clusterLookup(
    {
      caches: {
        breakerPolicies: byKey<CircuitBreakerPolicy>(c.agentBreaker, c.toolBreaker),
        rateLimitPolicies: byKey<RateLimitPolicy>(c.rateLimit),
      },
      client: {
        get: <T>(_kind: unknown, _ns: string, name: string) =>
          Promise.resolve((name === c.prompt.metadata.name ? c.prompt : undefined) as T),
      },
    },
    'default',
  );
  const gathered = await gatherAgentInputs(c.agent, lookup);
  return resolvePolicy({ ...gathered.inputs, readyReplicas: 1 });
}

/** What a runtime source hands the store, and the keys it sets. */
function capturingIntake() {
  const store = new PolicyStore(new ManualClock());
  const provider: Record<string, string>[] = [];
  const clients: (readonly string[] | undefined)[] = [];
  const intake: PolicyIntake = {
    store,
    clientKeys: { set: (keys) => clients.push(keys) },
    useProviderKeys: (keys) => provider.push({ ...keys }),
    useClientKeySource: () => undefined,
  };
  return { store, intake, provider, clients };
}

const deps = { env: {}, logger: createLogger('silent'), clock: new ManualClock() };

async function manifestDocument(path: string) {
  const target = capturingIntake();
  await new ManifestSource({ path }, target.intake, deps).reload();
  return target;
}

function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-sources-'));
  return body(dir).finally(() => {
    rmSync(dir, { recursive: true, force: true });
  });
}

describe('every policy source on the corpus that uses every reference', () => {
  it('resolves the same document from the operator’s caches, a manifests folder and one file', async () => {
    const expected = canonicalJson(await operatorDocument(corpus));
    await withTempDir(async (dir) => {
      corpusObjects(corpus).forEach((object, i) => {
        writeFileSync(join(dir, `${String(i).padStart(2, '0')}.yaml`), stringify(object));
      });
      const folder = await manifestDocument(dir);
      expect(folder.store.lastRejection).toBeUndefined();
      expect(canonicalJson(folder.store.current?.doc)).toBe(expected);

      const file = join(dir, 'all-in-one.yml');
      const single = mkdtempSync(join(tmpdir(), 'bw-source-file-'));
      try {
        const path = join(single, 'agent.yaml');
        writeFileSync(
          path,
          corpusObjects(corpus)
            .map((o) => stringify(o))
            .join('---\n'),
        );
        const one = await manifestDocument(path);
        expect(canonicalJson(one.store.current?.doc)).toBe(expected);
      } finally {
        rmSync(single, { recursive: true, force: true });
      }

      // And the operator's document as a policy file, read back by --policy.
      writeFileSync(file, expected);
      const fromFile = capturingIntake();
      await new PolicyFileSource(file, fromFile.store, deps.clock).reload();
      expect(canonicalJson(fromFile.store.current?.doc)).toBe(expected);
    });
  });

  it('runs an MCP server’s tools on its own CircuitBreakerPolicy from manifests, not the defaults', async () => {
    await withTempDir(async (dir) => {
      writeFileSync(
        join(dir, 'all.yaml'),
        corpusObjects(corpus)
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const { store } = await manifestDocument(dir);
      const server = store.current?.doc.mcpServers?.[0];
      expect(server?.circuitBreaker?.policyName).toBe('corpus-tool-breaker');
      expect(server?.circuitBreaker?.failureThreshold).toBe(3);
    });
  });

  it('carries the budgets in their time zone and the agent’s prices, in micro-dollars, from manifests', async () => {
    await withTempDir(async (dir) => {
      writeFileSync(
        join(dir, 'all.yaml'),
        corpusObjects(corpus)
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const doc = (await manifestDocument(dir)).store.current?.doc;
      expect(doc?.rateLimit.spend).toEqual({
        // The corpus agent runs one replica; a budget is shared among the replicas in every scope.
        shareOf: 1,
        timeZone: 'Europe/Berlin',
        budgets: [
          {
            name: 'monthly',
            period: 'Month',
            limitMicroUsd: 500_000_000,
            limitTokens: 50_000_000,
            per: 'Agent',
            onExhausted: 'Refuse',
            warnAtPercent: 80,
            waitForHeldMs: 5000,
          },
          {
            name: 'per-caller-daily',
            period: 'Day',
            limitMicroUsd: 20_125_000,
            per: 'ClientKey',
            onExhausted: 'Fallback',
            warnAtPercent: 90,
            waitForHeldMs: 5000,
          },
        ],
      });
      expect(
        doc?.pricing?.map((p) => [p.model, p.inputMicroUsdPerMTok, p.cacheReadMicroUsdPerMTok]),
      ).toEqual([
        [corpus.agent.spec.model.name, 3_000_000, 300_000],
        [corpus.agent.spec.model.fallbacks?.[0], 800_000, 80_000],
      ]);
    });
  });

  it('reads the provider keys and the client keys from the Secrets the agent names', async () => {
    await withTempDir(async (dir) => {
      writeFileSync(
        join(dir, 'all.yaml'),
        corpusObjects(corpus)
          .map((o) => stringify(o))
          .join('---\n'),
      );
      const { provider, clients } = await manifestDocument(dir);
      expect(provider.at(-1)).toEqual({
        ANTHROPIC_API_KEY: 'sk-ant-corpus-primary',
        BREAKWATER_BACKEND_1_API_KEY: 'sk-ant-corpus-secondary',
      });
      expect(clients.at(-1)).toEqual(['bw-corpus-client-key']);
    });
  });
});

describe('agentReferences', () => {
  /** Subtrees handed to Kubernetes as written (the team's container, the runtime's env, pod overrides). */
  const PASSED_THROUGH = ['agent', 'env', 'podTemplate'];

  /** Every `…Ref` field below spec in the AgentDeployment schema, `[]` for list items. */
  function schemaReferenceFields(): string[] {
    const root = join(import.meta.dirname, '../crds/schemas');
    const schema = JSON.parse(
      readFileSync(join(root, 'agentdeployment.schema.json'), 'utf8'),
    ) as Node;
    const common = JSON.parse(readFileSync(join(root, 'common.defs.json'), 'utf8')) as Node;
    const found: string[] = [];
    const resolve = (node: Node): Node => {
      const ref = node.$ref;
      if (ref === undefined) return node;
      const [file, pointer] = ref.split('#');
      const base = file === '' || file === undefined ? schema : common;
      const name = (pointer ?? '').split('/').at(-1) ?? '';
      return resolve(base.$defs?.[name] ?? {});
    };
    const walk = (node: Node, path: string): void => {
      const n = resolve(node);
      for (const [key, child] of Object.entries(n.properties ?? {})) {
        const at = path === '' ? key : `${path}.${key}`;
        if (path === '' && PASSED_THROUGH.includes(key)) continue;
        if (key.endsWith('Ref')) found.push(at);
        walk(child, at);
      }
      if (n.items !== undefined) walk(n.items, `${path}[]`);
    };
    const spec = schema.properties?.['spec'];
    if (spec === undefined) throw new Error('the AgentDeployment schema has no spec');
    walk(spec, '');
    return found.sort();
  }

  it('lists every reference field the schema declares, as the corpus uses them all', () => {
    const listed = new Set(
      agentReferences(corpus.agent).map((r) => r.field.replace(/\[[^\]]*\]/g, '[]')),
    );
    const fields = schemaReferenceFields();
    expect(fields.length).toBeGreaterThan(5);
    expect(fields.filter((f) => !listed.has(f))).toEqual([]);
  });

  it('names each missing policy once, with the MCP servers that name it', async () => {
    const agent = structuredClone(corpus.agent);
    agent.spec.mcpServers = [
      { name: 'a', url: 'http://a/mcp', circuitBreakerPolicyRef: { name: 'absent' } },
      { name: 'b', url: 'http://b/mcp', circuitBreakerPolicyRef: { name: 'absent' } },
    ];
    const reads: string[] = [];
    const gathered = await gatherAgentInputs(agent, (kind, name) => {
      reads.push(`${kind}/${name}`);
      return undefined;
    });
    expect(gathered.missing).toEqual([
      'CircuitBreakerPolicy corpus-agent-breaker',
      'RateLimitPolicy corpus-limits',
      'ConfigMap corpus-prompt key prompt.txt',
      'CircuitBreakerPolicy absent (mcpServers a, b)',
    ]);
    expect(reads.filter((r) => r === 'CircuitBreakerPolicy/absent')).toHaveLength(1);
  });
});

interface Node {
  $ref?: string;
  $defs?: Record<string, Node>;
  properties?: Record<string, Node>;
  items?: Node;
}

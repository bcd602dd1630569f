/**
 * Every manifest admission refuses (test/api/invalidManifestRows.ts and agentContainerRows.ts,
 * created for real on the cluster by the suites beside them) is refused by `--manifests` too, naming the
 * same field: the row's object, and for a policy an agent that uses it, read from a folder by
 * the runtime's manifest source, which keeps the last good policy and says why.

 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { agentContainerRows, storeSecretRows } from '../../../test/api/agentContainerRows.ts';
import { agent, invalidManifests } from '../../../test/api/invalidManifestRows.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { createLogger } from '../telemetry/logger.ts';
import { ManifestSource } from './manifestSource.ts';
import type { PolicyIntake } from './sourceDeps.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** What the manifest source made of the folder: the document it offered, or why it refused. */
async function read(objects: readonly object[]): Promise<{ offered: boolean; refused?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-manifest-admission-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'objects.yaml'), objects.map((o) => stringify(o)).join('---\n'));
  let offered = false;
  let refused: string | undefined;
  const intake: PolicyIntake = {
    store: {
      offerDocument: () => {
        offered = true;
        return 'applied';
      },
      offerText: () => 'applied',
      settled: () => Promise.resolve(),
      reject: (error: string) => {
        refused = error;
        return 'rejected';
      },
    },
    clientKeys: { set: () => undefined },
    useProviderKeys: () => undefined,
    useClientKeySource: () => undefined,
  };
  const source = new ManifestSource({ path: dir }, intake, {
    env: {},
    logger: createLogger('silent'),
    clock: new ManualClock(Date.parse('2026-11-26T12:00:00Z')),
  });
  await source.reload();
  return refused === undefined ? { offered } : { offered, refused };
}

describe('--manifests', () => {
  it('takes the valid starting point', async () => {
    expect(await read([agent({}, 'valid')])).toEqual({ offered: true });
  });

  it.each([...invalidManifests, ...agentContainerRows].map((row) => ({ ...row })))(
    '$name',
    async ({ manifest, field }) => {
      const named = { ...manifest, metadata: { name: 'row', ...manifest.metadata } };
      const objects =
        manifest.kind === 'AgentDeployment'
          ? [named]
          : [
              named,
              agent(
                manifest.kind === 'CircuitBreakerPolicy'
                  ? { circuitBreakerPolicyRef: { name: named.metadata.name } }
                  : { rateLimitPolicyRef: { name: named.metadata.name } },
                'uses-it',
              ),
            ];
      const result = await read(objects);
      expect(result.offered).toBe(false);
      // As the API server names it: `spec.x: …`, or `unknown field spec.x`.
      expect(result.refused).toMatch(
        new RegExp(`(^|\\s)(unknown field )?${field.replace(/[.[\]]/g, '\\$&')}[:;]`),
      );
    },
  );
});

describe('--manifests, an agent container that reads its store password', () => {
  it.each(storeSecretRows.map((row) => ({ ...row })))(
    '$name',
    async ({ manifest, policy, field, says }) => {
      const named = { ...manifest, metadata: { name: 'row' } };
      // Each object alone is admitted: the pair is what is refused.
      expect(await read([named])).toEqual({ offered: true });
      expect(
        await read([policy, agent({ rateLimitPolicyRef: { name: 'shared-store' } }, 'x')]),
      ).toEqual({ offered: true });
      const result = await read([policy, named]);
      expect(result.offered).toBe(false);
      expect(result.refused).toMatch(new RegExp(`(^|\\s)${field.replace(/[.[\]]/g, '\\$&')}:`));
      expect(result.refused).toContain(says);
      expect(result.refused).toContain('Give the agent container credentials of its own');
    },
  );
});

/**
 * docs/rate-limit-store.md's examples: its RateLimitPolicy, and each `store:` it shows after
 * (Sentinel, Cluster) set in that policy's place, as a reader would paste them.
 */
function storeExamples(): { name: string; policy: { spec: Record<string, unknown> } }[] {
  const page = readFileSync(new URL('../../../docs/rate-limit-store.md', import.meta.url), 'utf8');
  const blocks = [...page.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1] ?? '');
  const [first, ...rest] = blocks.map((b) => parse(b) as Record<string, unknown>);
  const policy = first as { kind?: string; spec: Record<string, unknown> } | undefined;
  if (policy?.kind !== 'RateLimitPolicy') throw new Error('the page opens on no RateLimitPolicy');
  const stores = rest.filter((b) => 'store' in b);
  return [
    { name: 'its RateLimitPolicy', policy },
    ...stores.map((b) => {
      const redis = (b['store'] as { redis: Record<string, unknown> }).redis;
      return {
        name: `its ${Object.keys(redis).filter((k) => k !== 'passwordSecretRef')[0] ?? ''} store${
          typeof redis['acknowledge'] === 'string'
            ? `, acknowledged by ${redis['acknowledge']}`
            : ''
        }`,
        policy: { ...policy, spec: { ...policy.spec, store: b['store'] } },
      };
    }),
  ];
}

describe("docs/rate-limit-store.md's examples", () => {
  it('shows a Sentinel and a Cluster store beside its address', () => {
    expect(storeExamples().map((e) => e.name)).toEqual([
      'its RateLimitPolicy',
      'its sentinel store',
      'its sentinel store, acknowledged by Replicas',
      'its cluster store, acknowledged by Replicas',
    ]);
  });

  it.each(storeExamples())('admits $name', async ({ policy }) => {
    const named = { ...policy, metadata: { name: 'documented' } };
    expect(
      await read([named, agent({ rateLimitPolicyRef: { name: 'documented' } }, 'uses-it')]),
    ).toEqual({ offered: true });
  });
});

/** docs/examples/*.yaml: each file's Breakwater objects, as a reader applies the file. */
function exampleFiles(): {
  file: string;
  objects: { kind: string; metadata: { name: string } }[];
}[] {
  const folder = new URL('../../../docs/examples/', import.meta.url);
  return readdirSync(folder)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({
      file,
      objects: parseAllDocuments(readFileSync(new URL(file, folder), 'utf8'))
        .map((d) => d.toJS() as { apiVersion?: string; kind: string; metadata: { name: string } })
        .filter((o) => o.apiVersion?.startsWith('breakwater.dev/') === true),
    }));
}

describe('docs/examples', () => {
  it('shows a store at an address and a Redis Cluster', () => {
    expect(exampleFiles().map((e) => e.file)).toEqual(
      expect.arrayContaining(['redis-cluster-store.yaml', 'redis-rate-limit-store.yaml']),
    );
  });

  it.each(exampleFiles())('admits $file with an agent on each policy', async ({ objects }) => {
    expect(objects.length).toBeGreaterThan(0);
    const agents = objects
      .filter((o) => o.kind === 'RateLimitPolicy')
      .map((o) =>
        agent({ rateLimitPolicyRef: { name: o.metadata.name } }, `on-${o.metadata.name}`),
      );
    expect(await read([...objects, ...agents])).toEqual({ offered: true });
  });
});

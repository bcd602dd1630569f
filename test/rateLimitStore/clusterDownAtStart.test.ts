/**
 * A Redis Cluster with a primary down before the runtime starts (issue 51), on real processes:
 * six redis-server nodes (test/support/redisCluster.ts), the primary that holds the
 * RateLimitPolicy's keys SIGKILLed and its replica frozen (SIGSTOP) so that nothing takes its
 * slots yet, then one runtime from `--manifests` whose rate-limit store and durable runs'
 * journal are both on the cluster. The runtime serves on its share and unjournaled, and what it
 * reports of both stores (the pod reports, read from `/debug/ratelimiter` and `/debug/durable`,
 * and the StoreAvailable and DurabilityStoreAvailable conditions the operator makes of them)
 * names the node that is down and says what brings it back, every time it is read. Then the
 * replica is thawed and promoted, or the primary started again: the same process goes back on
 * both stores, and the conditions turn True.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { stringify } from 'yaml';
import type { AgentDeployment, RateLimitPolicy } from '../../contract/src/api/resources.ts';
import { resolveRateLimit } from '../../contract/src/policy/policyResolution.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  encodeDurableReport,
  type DurableReport,
} from '../../contract/src/reporting/durableReport.ts';
import {
  RATE_LIMIT_STORE_ANNOTATION,
  encodeStoreReport,
  type StoreReport,
} from '../../contract/src/reporting/storeReport.ts';
import { durabilityCondition } from '../../operator/src/status/durabilityCondition.ts';
import { storeCondition } from '../../operator/src/status/storeCondition.ts';
import type { PodView } from '../../operator/src/status/views.ts';
import { keySlot } from '../../runtime/src/rateLimitStore/clusterRouting.ts';
import { KEY_A } from '../support/durableRunFixture.ts';
import { startRedisCluster, type RedisCluster } from '../support/redisCluster.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import { startSimulator } from '../support/simulator.ts';
import { PRIMARY_MODEL } from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

jest.setTimeout(180_000);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const NAMESPACE = 'tests';
const AGENT = 'durable';
/** Longer than a first connection's 3 s (clusterClient.ts): every report read in it names the node. */
const WATCH_MS = 5_000;
const BACK_ON_STORE_MS = 30_000;

function rateLimitPolicy(addresses: readonly string[]): RateLimitPolicy {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'shared', namespace: NAMESPACE },
    spec: {
      scope: 'Cluster',
      requests: { perSecond: 50, burst: 50 },
      store: { redis: { cluster: { addresses: [...addresses] } } },
    },
  };
}

function agentDeployment(simUrl: string, addresses: readonly string[]): AgentDeployment {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name: AGENT, namespace: NAMESPACE },
    spec: {
      model: { name: PRIMARY_MODEL },
      provider: { baseURL: simUrl, apiKeySecretRef: { name: 'provider', key: 'api-key' } },
      rateLimitPolicyRef: { name: 'shared' },
      durability: {
        store: { redis: { cluster: { addresses: [...addresses] } } },
        encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      },
    },
  };
}

/** The agent, its policy and its Secrets as `--manifests` reads them. */
function writeManifests(dir: string, objects: readonly object[]): void {
  const secrets = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'journal-key', namespace: NAMESPACE },
      stringData: { key: Buffer.alloc(32, 5).toString('base64') },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'provider', namespace: NAMESPACE },
      stringData: { 'api-key': 'sk-manifests' },
    },
  ];
  writeFileSync(
    join(dir, 'agent.yaml'),
    [...objects, ...secrets].map((o) => stringify(o)).join('---\n'),
  );
}

interface Reports {
  readonly store: StoreReport | undefined;
  readonly durable: DurableReport | undefined;
  readonly sharedDecisions: number;
}

async function reports(runtime: RuntimeHandle): Promise<Reports> {
  const limiter = (await runtime.debug('/debug/ratelimiter')) as {
    rateLimiter: { store?: { report: StoreReport }; counters?: { sharedDecisions: number } };
  };
  const durable = (await runtime.debug('/debug/durable')) as { durable: DurableReport | null };
  return {
    store: limiter.rateLimiter.store?.report,
    durable: durable.durable ?? undefined,
    sharedDecisions: limiter.rateLimiter.counters?.sharedDecisions ?? 0,
  };
}

/** The pod as the operator reads it: its two reports in their annotations. */
function pod(r: Reports): PodView {
  return {
    metadata: {
      name: `${AGENT}-0`,
      annotations: {
        [RATE_LIMIT_STORE_ANNOTATION]: encodeStoreReport(r.store),
        [DURABLE_RUNS_ANNOTATION]: encodeDurableReport(r.durable),
      },
    },
    status: { phase: 'Running' },
  };
}

const ask = {
  model: PRIMARY_MODEL,
  max_tokens: 32,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

function client(url: string, run?: string): Anthropic {
  return new Anthropic({
    baseURL: url,
    apiKey: KEY_A,
    maxRetries: 0,
    ...(run === undefined
      ? {}
      : { defaultHeaders: { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() } }),
  });
}

/** What a condition's message quotes of the pod's report (the store's name lists every node). */
const podSaid = (message: string | undefined): string =>
  message?.slice(message.indexOf(`(pod ${AGENT}-0: `)) ?? '';

const nodeAt = (cluster: RedisCluster, address: string) => {
  const node = cluster.nodes.find((n) => n.address === address);
  if (node === undefined) throw new Error(`no node at ${address}`);
  return node;
};

describe('a cluster primary down when the runtime starts', () => {
  it.each(['its replica promoted', 'it started again'] as const)(
    'is named by both stores’ reports and conditions, and the runtime goes back on them without a restart once %s',
    async (recovery) => {
      const cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
      cleanups.push(() => cluster.remove());
      const sim = await startSimulator();
      cleanups.push(() => sim.stop());
      const policy = rateLimitPolicy(cluster.addresses);
      const agent = agentDeployment(sim.url, cluster.addresses);
      const prefix = resolveRateLimit(policy, 1, AGENT).store?.keyPrefix ?? '';
      const slot = keySlot(prefix);
      const down = await cluster.primaryOf(slot);
      const replica = nodeAt(cluster, (await cluster.replicasOf(down))[0] ?? '');
      // Nothing takes the dead primary's slots while its replica is frozen.
      replica.freeze();
      cleanups.push(() => {
        replica.thaw();
        return Promise.resolve();
      });
      await nodeAt(cluster, down).kill();

      const dir = mkdtempSync(join(tmpdir(), 'bw-cluster-down-'));
      cleanups.push(() => {
        rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      });
      writeManifests(dir, [agent, policy]);
      const runtime = await startRuntime(['--manifests', dir], { BREAKWATER_CLIENT_KEYS: KEY_A });
      cleanups.push(async () => {
        await runtime.stop();
      });
      const startedAt = Date.now();
      const names = (r: Reports) =>
        r.store?.message?.includes(down) === true &&
        r.durable?.store.message?.includes(down) === true;
      await waitFor(async () => names(await reports(runtime)), {
        description: `both reports to name ${down}`,
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      const namedAfterMs = Date.now() - startedAt;

      // Every report read for longer than a first connection's timeout names the node: the
      // state keeps the last error, a node's or the timed-out connection's.
      const seen = { store: new Set<string>(), durable: new Set<string>() };
      const unnamed: Reports[] = [];
      for (const until = Date.now() + WATCH_MS; Date.now() < until;) {
        const r = await reports(runtime);
        seen.store.add(r.store?.message ?? '');
        seen.durable.add(r.durable?.store.message ?? '');
        if (
          !names(r) ||
          r.store?.reason !== 'Unreachable' ||
          r.durable?.store.reason !== 'Unreachable'
        )
          unnamed.push(r);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // It serves meanwhile: decided on its share, its run's call live and unjournaled.
      const served = await client(runtime.url, randomUUID()).messages.create(ask);
      const whileDown = await reports(runtime);
      // A call that went on without the journal leaves the node named too.
      if (!names(whileDown)) unnamed.push(whileDown);
      const limits = storeCondition(policy, [pod(whileDown)]);
      const journal = durabilityCondition(agent, [pod(whileDown)]);

      const recoveredAt = Date.now();
      if (recovery === 'its replica promoted') {
        replica.thaw();
        await cluster.waitForPromotion(slot, down, 30_000);
      } else {
        await nodeAt(cluster, down).start();
        // The replica stays frozen (it would answer no CLUSTER INFO): the others are asked.
        await cluster.waitForOk(
          30_000,
          cluster.addresses.filter((a) => a !== replica.address),
        );
      }
      const clusterOkAfterMs = Date.now() - recoveredAt;
      // Back: both stores answer and a call is decided on the store's counters. A node started
      // again may be taken for failed a moment longer by the others (CLUSTERDOWN): the probe
      // brings the store back then too.
      const back = await waitFor(
        async () => {
          const before = (await reports(runtime)).sharedDecisions;
          await client(runtime.url).messages.create(ask);
          const r = await reports(runtime);
          const onStores =
            r.store?.state === 'Shared' &&
            r.durable?.store.state === 'Available' &&
            r.sharedDecisions > before;
          return onStores ? r : undefined;
        },
        { description: 'both stores answering again', timeoutMs: BACK_ON_STORE_MS, intervalMs: 50 },
      );
      const backAfterMs = Date.now() - recoveredAt;
      // A run journaled on the cluster: its call made again is answered from the journal.
      const run = randomUUID();
      const first = await client(runtime.url, run).messages.create(ask);
      const billed = (await sim.stats()).requests;
      const replayed = await client(runtime.url, run).messages.create(ask);
      const figures = {
        test: 'test/rateLimitStore/clusterDownAtStart.test.ts',
        recovery,
        namedAfterStartMs: namedAfterMs,
        storeMessagesSeen: [...seen.store],
        durableMessagesSeen: [...seen.durable],
        clusterOkAfterMs,
        backOnBothStoresAfterMs: backAfterMs,
      };
      console.log(`cluster down at start figures: ${JSON.stringify(figures)}`);
      expect({
        unnamed,
        served: served.type,
        limits: { status: limits?.status, reason: limits?.reason },
        limitsNamesNode: podSaid(limits?.message).includes(down),
        limitsSaysFix: limits?.message.includes('once the cluster promotes its replica'),
        journal: { status: journal?.status, reason: journal?.reason },
        journalNamesNode: podSaid(journal?.message).includes(down),
        journalSaysFix: journal?.message.includes('once the cluster promotes its replica'),
        sameProcess: runtime.child.exitCode === null && runtime.child.signalCode === null,
        decidedOnStore: back.sharedDecisions > whileDown.sharedDecisions,
        replayed: replayed.id === first.id && (await sim.stats()).requests === billed,
        limitsAfter: storeCondition(policy, [pod(back)])?.status,
        journalAfter: durabilityCondition(agent, [pod(back)])?.status,
      }).toEqual({
        unnamed: [],
        served: 'message',
        limits: { status: 'False', reason: 'Unreachable' },
        limitsNamesNode: true,
        limitsSaysFix: true,
        journal: { status: 'False', reason: 'Unreachable' },
        journalNamesNode: true,
        journalSaysFix: true,
        sameProcess: true,
        decidedOnStore: true,
        replayed: true,
        limitsAfter: 'True',
        journalAfter: 'True',
      });
    },
  );
});

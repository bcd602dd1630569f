/**
 * Breakwater as users run it: the image built from the Dockerfile, the chart installed with
 * it, and everything in the cluster as containers of that image — the operator under its
 * chart ServiceAccount (in-cluster configuration, no kubeconfig), the agents' runtime pods
 * under the restricted security context the operator gives them, and the LLM simulator
 * (`breakwater-llm-sim`) as a Deployment behind a Service.
 *
 * `make test` runs it on the suites' kind cluster (kubelet, containerd, runc, kube-proxy,
 * CoreDNS in kind's node), and `make e2e-kind` on a kind cluster of its own after installing
 * the chart as a user would. Only reaching pods differs between clusters (clusterReach.ts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { installCrds } from '../api/apiInstallation.ts';
import { repoRoot, run } from '../chart/chartTools.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  providerSecret,
  rateLimitPolicy,
  MODEL,
} from '../support/agentFixtures.ts';
import {
  agentPods,
  api,
  applyObjects,
  condition,
  getAgent,
  isPodReady,
  isReadyAgent,
  kubectlRow,
  mergePatch,
  podPolicyHash,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { countOutcome, drainCall, type DrainCall } from '../support/drainCalls.ts';
import { startCollector, type OtelCollector } from '../support/otelCollector.ts';
import { serverHost } from '../support/podReach.ts';
import {
  CHAT_SPAN_ATTRIBUTES,
  otelEnv,
  spanShapesOf,
  TOKEN_USAGE_ATTRIBUTES,
  tokenUsageOf,
} from '../support/telemetryShape.ts';
import { uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { installBreakwater, simulatorIn, type BreakwaterRelease } from './breakwaterRelease.ts';
import { clusterReach, type ClusterReach } from './clusterReach.ts';
import { kubectlBreakwater } from './kubectlBreakwater.ts';
import { imageUnderTest } from './imageUnderTest.ts';
import { SIMULATOR, simulatorObjects } from './simulatorObjects.ts';

jest.setTimeout(180_000);

const AGENT = 'contained';
const CBP = 'contained-breaker';
/** An agent whose callers need a key from a Secret the runtime reads as uid 65532. */
const KEYED = 'keyed';
const KEYS = 'keyed-client-keys';
const RLP = 'contained-limits';
const REPLICAS = 2;
const DRAIN_MS = 2_000;
/**
 * Calls sent this close to the end of the drain may land on either side of it: the window is
 * counted from the deletion, the drain from the SIGTERM after it, and on two busy cores a call
 * can take a few hundred milliseconds to reach the pod (one in 1030 did, 200 ms from the end).
 */
const EDGE_MS = 500;
/** The pod-deletion case's steady traffic: 4 callers, each starting a call every 20 ms. */
const CALLERS = 4;
const CALL_INTERVAL_MS = 20;

let ns: TestNamespace;
let image: string;
let release: BreakwaterRelease | undefined;
let reach: ClusterReach;
/**
 * Where the agent's runtime exports its traces and gen_ai metrics, on this machine: only where
 * pods reach it (the suites' cluster exports BREAKWATER_POD_HOST; `make e2e-kind`'s does not).
 */
let collector: OtelCollector | undefined;
const podsReachThisMachine = serverHost() !== '127.0.0.1';
const TELEMETRY_SERVICE = 'bw-bundled-contained';

beforeAll(async () => {
  // Building the image comes first: cold (no cached bases, no layers) it takes minutes.
  image = imageUnderTest();
  reach = clusterReach();
  if (podsReachThisMachine) collector = await startCollector(serverHost());
  await installCrds();
  ns = await uniqueNamespace('in-cluster');
  await applyObjects(ns.name, ...simulatorObjects(image, 23));
  release = await installBreakwater(ns.name, image);
  const providerURL = await reach.serviceUrl(ns.name, SIMULATOR, 'http');
  await applyObjects(
    ns.name,
    providerSecret(),
    circuitBreakerPolicy(CBP),
    rateLimitPolicy(RLP),
    agentDeployment(AGENT, {
      providerURL,
      replicas: REPLICAS,
      circuitBreakerPolicy: CBP,
      rateLimitPolicy: RLP,
      spec: {
        terminationDrainDuration: '2s',
        terminationGracePeriodSeconds: 10,
        env: collector === undefined ? [] : otelEnv(collector, TELEMETRY_SERVICE),
      },
    }),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: KEYS }, stringData: { team: 'key-one' } },
    agentDeployment(KEYED, {
      providerURL,
      spec: { access: { clientKeysSecretRef: { name: KEYS } } },
    }),
  );
}, 20 * 60_000);

afterAll(async () => {
  await collector?.stop();
  reach.close();
  await release?.uninstall();
  await ns.cleanup();
});

/** The container runtime's IDs of the pod's running containers (`containerd://…`). */
function containerIds(pod: PodView): string[] {
  return (pod.status?.containerStatuses ?? [])
    .map((status) => status.containerID ?? '')
    .filter((id) => /^[a-z]+:\/\/[0-9a-f]{64}$/.test(id));
}

async function readyPods(): Promise<PodView[]> {
  return waitFor(
    async () => {
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return pods.length === REPLICAS && pods;
    },
    { timeoutMs: 120_000, description: `${String(REPLICAS)} ready pods of ${AGENT}` },
  );
}

/** Edits the RateLimitPolicy's request budget and waits until every replica reports the new policy. */
async function editRateLimits(requests: {
  perSecond: number;
  burst: number;
}): Promise<{ oldHash: string | undefined; hash: string }> {
  const oldHash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
  await mergePatch(ns.name, `rlp/${RLP}`, { spec: { requests } });
  const hash = await waitFor(
    async () => {
      const agent = await getAgent(ns.name, AGENT);
      const current = agent?.status?.policy?.hash;
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return (
        current !== undefined &&
        current !== oldHash &&
        pods.length === REPLICAS &&
        pods.every((pod) => podPolicyHash(pod) === current) &&
        current
      );
    },
    { timeoutMs: 60_000, description: 'every replica to report the edited policy' },
  );
  return { oldHash, hash };
}

describe('the chart and the agents, as containers of the built image', () => {
  it('runs the operator from the chart under its ServiceAccount, and the agent becomes Ready', async () => {
    const operatorPod = await waitFor(
      async () =>
        (
          await api().list<PodView>(Kinds.Pod, {
            namespace: ns.name,
            labelSelector: `app.kubernetes.io/instance=${release?.name ?? ''}`,
          })
        ).items.find(isPodReady),
      { timeoutMs: 120_000, description: 'a ready operator pod' },
    );
    expect(containerIds(operatorPod)).toHaveLength(1);
    const agent = await waitFor(
      async () => {
        const a = await getAgent(ns.name, AGENT);
        return isReadyAgent(a) && a?.status?.readyReplicas === REPLICAS && a;
      },
      { timeoutMs: 150_000, description: `${AGENT} Ready with ${String(REPLICAS)} replicas` },
    );
    expect(condition(agent, 'PoliciesResolved')?.status).toBe('True');
    const pods = await readyPods();
    for (const pod of pods) expect(containerIds(pod)).toHaveLength(1);
    // The runtime answers through the simulator in the cluster.
    const [pod] = pods;
    if (pod === undefined) throw new Error('no ready pod');
    expect(await drainCall(await reach.podUrl(pod, 'http'), MODEL)).toMatchObject({
      outcome: 'served',
    });
  });

  (podsReachThisMachine ? it : it.skip)(
    'exports its calls as every way the runtime runs does: the same spans and gen_ai metrics',
    async () => {
      if (collector === undefined) throw new Error('no Collector');
      const [pod] = await readyPods();
      if (pod === undefined) throw new Error('no ready pod');
      expect(await drainCall(await reach.podUrl(pod, 'http'), MODEL)).toMatchObject({
        outcome: 'served',
      });
      const spans = await spanShapesOf(collector, TELEMETRY_SERVICE, 60_000);
      // One span a relayed call (test/support/telemetryShape.ts): no server span beside it.
      expect(spans['POST /v1/messages']).toBeUndefined();
      expect(spans[`chat ${MODEL}`]?.names).toEqual(CHAT_SPAN_ATTRIBUTES);
      expect(spans[`chat ${MODEL}`]?.genAi).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': MODEL,
      });
      const points = await tokenUsageOf(collector, TELEMETRY_SERVICE, 60_000);
      expect(points.map((p) => [p.type, p.names])).toEqual(
        ['input', 'output'].map((type) => [type, TOKEN_USAGE_ATTRIBUTES]),
      );
    },
  );

  it('lets in only callers with a key from the Secret mounted into the runtime', async () => {
    const pod = await waitFor(async () => (await agentPods(ns.name, KEYED)).find(isPodReady), {
      timeoutMs: 120_000,
      description: `a ready pod of ${KEYED}`,
    });
    const url = await reach.podUrl(pod, 'http');
    const call = async (key?: string): Promise<number> => {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'x-api-key': key }),
        },
        body: JSON.stringify({
          model: MODEL,
          max_tokens: 8,
          messages: [{ role: 'user', content: 'hi' }],
        }),
        signal: AbortSignal.timeout(15_000),
      });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await call('key-one')).toBe(200);
    expect(await call()).toBe(401);
    expect(await call('key-wrong')).toBe(401);
  });

  it('reloads an edited RateLimitPolicy into every replica without restarting one', async () => {
    const before = await readyPods();
    const { oldHash, hash } = await editRateLimits({ perSecond: 7, burst: 14 });
    expect(hash).not.toBe(oldHash);
    const after = await agentPods(ns.name, AGENT);
    expect(after.map((p) => p.metadata?.uid).sort()).toEqual(
      before.map((p) => p.metadata?.uid).sort(),
    );
  });

  it('shows the breaker Open in kubectl get cbp after a 529 storm', async () => {
    const pods = await readyPods();
    const sim = await simulatorIn(ns.name, reach);
    await sim.setFault({ status: 529 });
    for (const pod of pods) {
      const url = await reach.podUrl(pod, 'http');
      const outcomes: DrainCall[] = [];
      while (outcomes.length < 30) {
        const call = await drainCall(url, MODEL);
        outcomes.push(call);
        if (call.outcome === 'refused') break; // 503: the open breaker refuses at once
      }
      expect(outcomes.at(-1)?.outcome).toBe('refused');
    }
    const row = await waitFor(
      async () => {
        const r = await kubectlRow(ns.name, `cbp/${CBP}`);
        return (
          r['STATE'] === 'Open' && r['OPEN'] === `${String(REPLICAS)}/${String(REPLICAS)}` && r
        );
      },
      {
        timeoutMs: 30_000,
        description: `kubectl get cbp to show Open ${String(REPLICAS)}/${String(REPLICAS)}`,
      },
    );
    expect(row['TRIPS']).toBe(String(REPLICAS));
    await sim.clearFaults();
  });

  // Where the test reaches pods only through `kubectl port-forward` (kind), the forward holds
  // each call to a deleted pod until it times out: the case needs a Service route (the real
  // node).
  const deletionReachable = process.env['BREAKWATER_CLUSTER_ROUTED'] === '1';
  (deletionReachable ? it : it.skip)(
    'drops no call when a pod is deleted under steady traffic',
    async () => {
      // Steady traffic well within the budget; after openDuration (2 s) one call goes through as
      // a probe and closes the breaker.
      await editRateLimits({ perSecond: 500, burst: 1000 });
      const pods = await readyPods();
      const [pod] = pods;
      if (pod === undefined) throw new Error('no ready pod');
      // Every replica's breaker, opened by the storm before, closes on its first call after
      // openDuration: each has that call now, or the Service's first calls to one still open
      // come back 503 while its probe is out.
      for (const each of pods) {
        await waitFor(
          async () =>
            (await drainCall(await reach.podUrl(each, 'http'), MODEL)).outcome === 'served',
          {
            timeoutMs: 20_000,
            intervalMs: 500,
            description: `${each.metadata?.name ?? 'a pod'} to serve again`,
          },
        );
      }
      // Through the agent's Service where this machine routes it (the real node): the pod's
      // endpoint must leave kube-proxy's rules before the runtime stops taking calls, as for any
      // client in the cluster. Elsewhere, straight to the pod being deleted.
      const url =
        (await reach.hostServiceUrl(ns.name, AGENT, 'http')) ?? (await reach.podUrl(pod, 'http'));
      const name = pod.metadata?.name ?? '';
      const uid = pod.metadata?.uid;
      const sent: DrainCall[] = [];
      let stop = false;
      // Paced: at most CALLERS / CALL_INTERVAL_MS calls a second (200), well inside the budget
      // above on any machine. Unpaced, a fast node sent more than the budget allows and the
      // limiter's 429s counted as lost calls.
      const callers = Array.from({ length: CALLERS }, async () => {
        while (!stop) {
          const started = Date.now();
          const call = await drainCall(url, MODEL);
          sent.push(call);
          const pause = call.outcome === 'served' ? CALL_INTERVAL_MS - (Date.now() - started) : 50;
          if (pause > 0) await new Promise((r) => setTimeout(r, pause));
        }
      });
      await waitFor(() => countOutcome(sent, 'served') >= 8, {
        timeoutMs: 20_000,
        description: 'traffic to be served before the deletion',
      });
      const deletedAt = Date.now();
      await api().delete(Kinds.Pod, ns.name, name);
      await waitFor(
        async () => (await api().get<PodView>(Kinds.Pod, ns.name, name))?.metadata?.uid !== uid,
        { timeoutMs: 30_000, description: 'the deleted pod to be gone' },
      );
      stop = true;
      await Promise.all(callers);
      const during = sent.filter((s) => s.at >= deletedAt && s.at < deletedAt + DRAIN_MS - EDGE_MS);
      process.stderr.write(
        `[in-cluster] pod deletion: ${String(sent.length)} calls, ${String(during.length)} during the drain; ` +
          `served ${String(countOutcome(sent, 'served'))}, refused ${String(countOutcome(sent, 'refused'))}, ` +
          `unanswered ${String(countOutcome(sent, 'unanswered'))}, lost ${String(countOutcome(sent, 'lost'))}\n`,
      );
      if (countOutcome(sent, 'lost') > 0 || during.some((s) => s.outcome !== 'served'))
        process.stderr.write(`${await reach.describeServiceRoute(ns.name, AGENT)}\n`);
      expect(during.length).toBeGreaterThan(0);
      expect(during.filter((s) => s.outcome !== 'served')).toEqual([]);
      expect(sent.filter((s) => s.outcome === 'lost')).toEqual([]);
      await readyPods();
    },
  );

  it("kubectl breakwater top reads every replica's /debug/stats through the API server's pod proxy", async () => {
    const pods = await readyPods();
    for (const pod of pods)
      expect((await drainCall(await reach.podUrl(pod, 'http'), MODEL)).outcome).toBe('served');
    const top = await kubectlBreakwater(['top', '-n', ns.name, '-o', 'json']);
    expect(top.stderr).toBe('');
    expect(top.code).toBe(0);
    const { agents } = JSON.parse(top.stdout) as {
      agents: { name: string; running: number; count: number; unread: unknown[] }[];
    };
    const agent = agents.find((a) => a.name === AGENT);
    expect(agent).toMatchObject({ running: REPLICAS, unread: [] });
    expect(agent?.count).toBeGreaterThanOrEqual(REPLICAS);
  });
});

// The image is in this machine's podman storage where the global setup built it (the local
// cluster, BREAKWATER_CLUSTER=kind) or make e2e-kind did with podman; elsewhere only the nodes
// hold it.
const given = process.env['BREAKWATER_CHART_IMAGE'] ?? '';
const imageHere =
  given !== '' &&
  (
    await run(join(repoRoot, 'scripts/image/podman.sh'), ['image', 'exists', given], {
      allowFailure: true,
    })
  ).code === 0;

describe('the image entrypoint', () => {
  const podman = (...args: string[]) =>
    run(
      join(repoRoot, 'scripts/image/podman.sh'),
      [
        'run',
        '--rm',
        '--pull=never',
        '--network=none',
        '--read-only',
        '--cap-drop=ALL',
        image,
        ...args,
      ],
      { allowFailure: true },
    );

  (imageHere ? it : it.skip)(
    'runs the program named first, and the runtime when none is',
    async () => {
      expect((await podman('breakwater-llm-sim', '--help')).stdout).toMatch(
        /^Usage: breakwater-llm-sim /,
      );
      expect((await podman('operator', '--help')).stdout).toMatch(/^Usage: breakwater-operator /);
      expect((await podman('--help')).stdout).toMatch(/^Usage: breakwater-runtime /);
      const refused = await podman('breakwater-llm-simulator');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('is not a program of this image');
    },
  );
});

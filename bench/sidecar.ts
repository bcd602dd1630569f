/**
 * `make bench-sidecar`: what the runtime as a native sidecar adds to a team's own agent's model
 * call. On kind (`test/kind/e2e.sh` brings it up, loads the image and hands this the cluster),
 * one AgentDeployment runs the TypeScript agent of the in-cluster suite
 * (test/inCluster/agents/typescript/, built as an image here) with the runtime beside it,
 * against the LLM simulator as a Deployment behind a Service. A client inside the agent
 * container (bench/sidecar/hopClient.cjs) makes the same non-streaming Messages call
 *
 *   direct    to the simulator's Service, as the agent would without Breakwater
 *   proxy     through a bare node:http pass-through proxy process on the pod's loopback: what
 *             any proxy in the path costs, the baseline
 *   sidecar   to the runtime on the pod's loopback with the injected per-pod key, which calls
 *             the same Service under the agent's policy (breaker, limiter, timeout, retry)
 *
 * one at a time on keep-alive connections, the three ways in rotating turns, in rounds after a
 * warm-up round. p50/p90/p99 are the medians over rounds of each round's percentile; an added
 * p50 is the median of the rounds' differences. Writes bench/results/sidecar.json and ends with
 *
 *   sidecar: direct_p50_ms=A sidecar_p50_ms=B added_p50_ms=C (a bare proxy's D; the runtime over it E)
 *
 *   make bench-sidecar                       # the kind cluster is taken down afterwards
 *   node bench/sidecar.ts [--calls 500] [--rounds 5]   # against BREAKWATER_KUBECONFIG's cluster
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import { median } from '../tools/stats/samples.ts';
import { installCrds } from '../test/api/apiInstallation.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  providerSecret,
  rateLimitPolicy,
} from '../test/support/agentFixtures.ts';
import {
  agentPods,
  applyObjects,
  getAgent,
  isPodReady,
  isReadyAgent,
} from '../test/support/breakwaterCluster.ts';
import { kubectl, uniqueNamespace, waitFor } from '../test/support/kube.ts';
import { buildAgentImage } from '../test/inCluster/agentImages.ts';
import { installBreakwater } from '../test/inCluster/breakwaterRelease.ts';
import { clusterReach } from '../test/inCluster/clusterReach.ts';
import { SIMULATOR, simulatorObjects } from '../test/inCluster/simulatorObjects.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const flags = parseArgs({
  options: { calls: { type: 'string', default: '500' }, rounds: { type: 'string', default: '5' } },
}).values;
const calls = Number(flags.calls);
const rounds = Number(flags.rounds);
const image = process.env['BREAKWATER_CHART_IMAGE'];
if (image === undefined || image === '' || process.env['BREAKWATER_CLUSTER_ROUTED'] !== '1') {
  process.stderr.write(
    'bench/sidecar.ts runs against a routed kind cluster: use `make bench-sidecar` (test/kind/e2e.sh sets it up)\n',
  );
  process.exit(2);
}

const AGENT = 'bench-agent';
const CBP = 'bench-breaker';
const RLP = 'bench-limits';
const KEYS = 'bench-client-keys';
const AGENT_PORT = 8000;
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));
const say = (line: string): void => {
  process.stderr.write(`>> ${line}\n`);
};

interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
}
type Way = 'direct' | 'proxy' | 'sidecar';
type Round = Record<Way, Percentiles>;

const startedAt = new Date();
say('building the TypeScript agent image (test/inCluster/agents/typescript)');
const agentImage = await buildAgentImage('typescript');
const reach = clusterReach();
await installCrds();
const ns = await uniqueNamespace('bench-sidecar');
let result: Round[];
try {
  await applyObjects(ns.name, ...simulatorObjects(image, 7));
  const release = await installBreakwater(ns.name, image);
  try {
    const providerURL = await reach.serviceUrl(ns.name, SIMULATOR, 'http');
    await applyObjects(
      ns.name,
      providerSecret(),
      // Access control on, as a team would run it: the per-pod key is checked on every call.
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: KEYS }, stringData: { team: 'k1' } },
      circuitBreakerPolicy(CBP),
      // Far above what one sequential client sends: the limiter admits every call.
      rateLimitPolicy(RLP, { requests: { perSecond: 5_000, burst: 10_000 } }),
      agentDeployment(AGENT, {
        providerURL,
        circuitBreakerPolicy: CBP,
        rateLimitPolicy: RLP,
        spec: {
          model: { name: PRIMARY_MODEL, maxTokens: 16 },
          access: { clientKeysSecretRef: { name: KEYS } },
          agent: {
            image: agentImage,
            env: [{ name: 'AGENT_MODEL', value: PRIMARY_MODEL }],
            ports: [{ name: 'web', containerPort: AGENT_PORT }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'web' }, periodSeconds: 1 },
          },
        },
      }),
    );
    say('waiting for the agent and its runtime sidecar to be Ready');
    await waitFor(async () => isReadyAgent(await getAgent(ns.name, AGENT)), {
      timeoutMs: 300_000,
      description: `${AGENT} Ready`,
    });
    const pod = await waitFor(async () => (await agentPods(ns.name, AGENT)).find(isPodReady), {
      timeoutMs: 60_000,
      description: `a ready pod of ${AGENT}`,
    });
    say(
      `measuring: ${String(rounds)} rounds of ${String(calls)} calls each way, after a warm-up round`,
    );
    const client = readFileSync(join(repo, 'bench/sidecar/hopClient.cjs'), 'utf8');
    const { stdout } = await kubectl(
      [
        'exec',
        '-n',
        ns.name,
        pod.metadata?.name ?? '',
        '-c',
        'agent',
        '--',
        '/nodejs/bin/node',
        '-e',
        client,
        providerURL,
        PRIMARY_MODEL,
        String(calls),
        String(rounds),
      ],
      { timeoutMs: 30 * 60_000 },
    );
    result = (JSON.parse(stdout) as { rounds: Round[] }).rounds;
  } finally {
    await release.uninstall();
  }
} finally {
  reach.close();
  await ns.cleanup();
}

const over = (way: Way, q: 'p50' | 'p90' | 'p99'): number =>
  round(median(result.map((r) => r[way][q])));
const percentiles = (way: Way) => ({
  p50: over(way, 'p50'),
  p90: over(way, 'p90'),
  p99: over(way, 'p99'),
});
/** The median over rounds of how much `way`'s p50 exceeds `than`'s in the same round. */
const addedP50 = (way: Way, than: Way): number =>
  round(median(result.map((r) => r[way].p50 - r[than].p50)));
const summary = {
  benchmark: 'sidecar',
  command: 'make bench-sidecar',
  image,
  agentImage,
  cpus: cpus().length,
  loadAverage: loadavg(),
  startedAt: startedAt.toISOString(),
  durationSeconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
  method:
    'inside the agent container of an AgentDeployment with spec.agent on kind: the same non-streaming Messages call to the simulator Service directly, through a bare node:http pass-through proxy process on the pod loopback (the baseline), and through the runtime sidecar on loopback (per-pod key, the agent policy), one at a time on keep-alive connections, in rotating turns; a warm-up round dropped; percentiles are medians over rounds of each round percentile, added p50s the medians of the rounds differences',
  callsPerRound: calls,
  rounds,
  results: {
    direct: percentiles('direct'),
    proxy: percentiles('proxy'),
    sidecar: percentiles('sidecar'),
    /** The sidecar over the direct call: the measure. */
    addedP50Ms: addedP50('sidecar', 'direct'),
    addedP50MsEachRound: result.map((r) => round(r.sidecar.p50 - r.direct.p50)),
    /** Any proxy in the path: a bare pass-through's cost over the direct call. */
    proxyAddedP50Ms: addedP50('proxy', 'direct'),
    /** The runtime's own share: the sidecar over the bare pass-through. */
    runtimeOverProxyP50Ms: addedP50('sidecar', 'proxy'),
  },
};
mkdirSync(join(repo, 'bench/results'), { recursive: true });
writeFileSync(join(repo, 'bench/results/sidecar.json'), `${JSON.stringify(summary, null, 2)}\n`);
const r = summary.results;
process.stdout.write(
  `sidecar: direct_p50_ms=${String(r.direct.p50)} sidecar_p50_ms=${String(r.sidecar.p50)} added_p50_ms=${String(r.addedP50Ms)} (a bare proxy's ${String(r.proxyAddedP50Ms)}; the runtime over it ${String(r.runtimeOverProxyP50Ms)})\n`,
);

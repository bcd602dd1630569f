/**
 * A team's own agent, guarded where it runs (issue 25): two agents that are not Breakwater
 * code — a Python service on `anthropic` from PyPI and a TypeScript one on `@anthropic-ai/sdk`
 * from npm (test/inCluster/agents/), each built as an image here — run as `spec.agent` of an
 * AgentDeployment, with the runtime beside them as a native sidecar, against the LLM simulator
 * in the cluster. Native sidecars, their ordering, the pod's shared loopback and `kubectl exec
 * -c` are the kubelet's, so this runs on a real node routed from this machine (kind as
 * tools/kindNode/kind-cluster.sh brings it up, which routes the pod network and Service
 * addresses here); elsewhere it is skipped.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { isKubeApiError } from '../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../../contract/src/api/sampleModels.ts';
import { installCrds } from '../api/apiInstallation.ts';
import {
  agentDeployment,
  circuitBreakerPolicy,
  providerSecret,
  rateLimitPolicy,
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
import { kubectl, uniqueNamespace, waitFor, type TestNamespace } from '../support/kube.ts';
import { errorText } from '../../tools/cluster/polling.ts';
import { startCollector, type OtelCollector } from '../support/otelCollector.ts';
import { serverHost } from '../support/podReach.ts';
import { actAs } from '../support/serviceAccountTokens.ts';
import {
  CHAT_SPAN_ATTRIBUTES,
  otelEnv,
  spanShapesOf,
  TOKEN_USAGE_ATTRIBUTES,
  tokenUsageOf,
} from '../support/telemetryShape.ts';
import { buildAgentImage, type AgentLanguage } from './agentImages.ts';
import { installBreakwater, simulatorIn, type BreakwaterRelease } from './breakwaterRelease.ts';
import { kubectlBreakwater } from './kubectlBreakwater.ts';
import { clusterReach, type ClusterReach } from './clusterReach.ts';
import { imageUnderTest } from './imageUnderTest.ts';
import { SIMULATOR, simulatorObjects } from './simulatorObjects.ts';

jest.setTimeout(180_000);

const realNode = process.env['BREAKWATER_CLUSTER_ROUTED'] === '1';
const describeOnRealNode = realNode ? describe : describe.skip;

const CBP = 'own-agent-breaker';
const RLP = 'own-agent-limits';
const KEYS = 'own-agent-client-keys';
const AGENT_PORT = 8000;
/** Where the operator mounts the runtime's own API token, in the runtime container only. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** The team's MCP server, run from the TypeScript agent's image (agents/typescript/notesServer.ts). */
const NOTES = 'notes-mcp';
const NOTES_PORT = 8001;
/** The provider key the runtime holds: it must appear nowhere in the agent container. */
const PROVIDER_KEY = providerSecret().stringData['api-key'] ?? '';
const AGENTS: Record<AgentLanguage, string> = { python: 'py-agent', typescript: 'ts-agent' };
const LANGUAGES = Object.keys(AGENTS) as AgentLanguage[];
/** Two of the TypeScript agent, so that one pod can be deleted while the other serves. */
const REPLICAS: Record<AgentLanguage, number> = { python: 1, typescript: 2 };
const TOTAL_REPLICAS = REPLICAS.python + REPLICAS.typescript;

let ns: TestNamespace;
let release: BreakwaterRelease | undefined;
let reach: ClusterReach;
/** Where each sidecar exports its traces and gen_ai metrics (OTEL_* in the AgentDeployment's env). */
let collector: OtelCollector | undefined;
const images = {} as Record<AgentLanguage, string>;

interface AgentPod extends PodView {
  spec?: {
    containers?: { name: string }[];
    initContainers?: { name: string; restartPolicy?: string }[];
  };
  status?: PodView['status'] & {
    podIP?: string;
    initContainerStatuses?: { name: string; restartCount: number; containerID?: string }[];
    containerStatuses?: { name: string; restartCount: number; containerID?: string }[];
  };
}

beforeAll(async () => {
  if (!realNode) return;
  const image = imageUnderTest();
  for (const language of LANGUAGES) images[language] = await buildAgentImage(language);
  reach = clusterReach();
  collector = await startCollector(serverHost());
  await installCrds();
  ns = await uniqueNamespace('own-agent');
  await applyObjects(
    ns.name,
    ...simulatorObjects(image, 25),
    ...notesServerObjects(images.typescript),
  );
  release = await installBreakwater(ns.name, image);
  const providerURL = await reach.serviceUrl(ns.name, SIMULATOR, 'http');
  await applyObjects(
    ns.name,
    providerSecret(),
    // Access control on: the agents' per-pod key must be accepted beside the team's keys.
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: KEYS }, stringData: { team: 'k1' } },
    circuitBreakerPolicy(CBP),
    rateLimitPolicy(RLP),
    ...LANGUAGES.map((language) =>
      agentDeployment(AGENTS[language], {
        providerURL,
        replicas: REPLICAS[language],
        circuitBreakerPolicy: CBP,
        rateLimitPolicy: RLP,
        spec: {
          model: { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL], maxTokens: 64 },
          access: { clientKeysSecretRef: { name: KEYS } },
          ...(language === 'typescript'
            ? {
                mcpServers: [
                  {
                    name: 'notes',
                    url: `http://${NOTES}.${ns.name}.svc.cluster.local:${String(NOTES_PORT)}/mcp`,
                  },
                ],
              }
            : {}),
          terminationGracePeriodSeconds: 10,
          env: collector === undefined ? [] : otelEnv(collector, sidecarService(language)),
          agent: {
            image: images[language],
            env: [{ name: 'AGENT_MODEL', value: PRIMARY_MODEL }],
            ports: [{ name: 'web', containerPort: AGENT_PORT }],
            readinessProbe: { httpGet: { path: '/healthz', port: 'web' }, periodSeconds: 1 },
          },
        },
      }),
    ),
  );
}, 20 * 60_000);

afterAll(async () => {
  if (!realNode) return;
  await collector?.stop();
  reach.close();
  await release?.uninstall();
  await ns.cleanup();
});

/** The service name each agent's sidecar exports its telemetry under. */
function sidecarService(language: AgentLanguage): string {
  return `bw-sidecar-${AGENTS[language]}`;
}

function notesServerObjects(image: string): object[] {
  const labels = { 'app.kubernetes.io/name': NOTES };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: NOTES, labels },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'notes',
                image,
                command: ['/nodejs/bin/node', '/app/notesServer.ts'],
                env: [{ name: 'NOTES_PORT', value: String(NOTES_PORT) }],
                ports: [{ name: 'mcp', containerPort: NOTES_PORT }],
                readinessProbe: { tcpSocket: { port: 'mcp' }, periodSeconds: 1 },
                securityContext: {
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: NOTES, labels },
      spec: { selector: labels, ports: [{ name: 'mcp', port: NOTES_PORT, targetPort: 'mcp' }] },
    },
  ];
}

async function readyPod(agent: string): Promise<AgentPod> {
  return waitFor(async () => ((await agentPods(ns.name, agent)) as AgentPod[]).find(isPodReady), {
    timeoutMs: 180_000,
    description: `a ready pod of ${agent}`,
  });
}

/** Every replica of every agent, once all are ready. */
async function allReadyPods(): Promise<AgentPod[]> {
  const perAgent = await Promise.all(
    LANGUAGES.map((language) =>
      waitFor(
        async () => {
          const pods = ((await agentPods(ns.name, AGENTS[language])) as AgentPod[]).filter(
            isPodReady,
          );
          return pods.length === REPLICAS[language] && pods;
        },
        {
          timeoutMs: 180_000,
          description: `${String(REPLICAS[language])} ready pods of ${AGENTS[language]}`,
        },
      ),
    ),
  );
  return perAgent.flat();
}

interface Answer {
  readonly status: number;
  readonly body: { text?: string; model?: string; error?: string; status?: number };
}

/**
 * The agent's answer to one prompt. `fresh` opens a connection for this call alone: a wait for
 * a Service to be routed must not ride a kept-alive connection, since one opened while
 * kube-proxy held no rule for the Service (just after it was created, or in the gap between
 * its REJECT going and its DNAT arriving) went wherever the host's default route led (on this
 * machine, an egress proxy that answers anything with an empty 404) and keeps going there; and
 * calls meant to reach every endpoint must each be balanced anew.
 */
async function ask(
  url: string,
  timeoutMs = 20_000,
  { fresh = false }: { fresh?: boolean } = {},
): Promise<Answer> {
  const response = await fetch(`${url}/ask`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(fresh ? { connection: 'close' } : {}) },
    body: JSON.stringify({ input: 'hello' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Answer['body'] };
  } catch {
    // Not the agent: say who answered and what, not "Unexpected end of JSON input".
    const server = response.headers.get('server');
    throw new Error(
      `${String(response.status)} not from the agent${server === null ? '' : ` (server: ${server})`}, ` +
        `body ${text.length === 0 ? 'empty' : JSON.stringify(text.slice(0, 120))}`,
    );
  }
}

/**
 * The TypeScript agent's MCP tool call through its sidecar's `/mcp/notes`. The runtime links
 * to the server with backoff, so the first calls may find it not yet linked.
 */
async function askTool(pod: AgentPod, id: string): Promise<{ content?: { text?: string }[] }> {
  return waitFor(
    async () => {
      const response = await fetch(`${podAgentUrl(pod)}/tool`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: id }),
        signal: AbortSignal.timeout(20_000),
      });
      const body = (await response.json()) as { content?: { text?: string }[] };
      return response.status === 200 && body;
    },
    { timeoutMs: 60_000, intervalMs: 1_000, description: 'the MCP tool call to be answered' },
  );
}

/**
 * The agent's answer through its Service's ClusterIP, once kube-proxy routes it: it programs
 * the Service's rules a moment after the endpoints turn ready. Each try is short, so one that
 * hangs does not use up the wait, and on its own connection (see `ask`); a wait that fails
 * says what the data plane held.
 */
async function routedAnswer(name: string): Promise<Answer> {
  const service = await reach.hostServiceUrl(ns.name, name, 'http');
  if (service === undefined) throw new Error('no route to the Service from this machine');
  const started = Date.now();
  const missed: string[] = [];
  try {
    const answer = await waitFor(
      () =>
        ask(service, 5_000, { fresh: true }).catch((err: unknown) => {
          missed.push(errorText(err));
          throw err;
        }),
      { timeoutMs: 60_000, intervalMs: 500, description: `${name}'s Service to be routed` },
    );
    process.stderr.write(
      `[own-agent] ${name} answered through its Service after ${String(Date.now() - started)} ms` +
        ` and ${String(missed.length)} missed calls${missed.length > 0 ? ` (last: ${missed.at(-1) ?? ''})` : ''}\n`,
    );
    return answer;
  } catch (err) {
    throw new Error(
      [
        errorText(err),
        await askedDirectly(await readyPod(name)),
        await reach.describeServiceRoute(ns.name, name),
      ].join('\n'),
    );
  }
}

/**
 * For a failure's message: the same call made to the pod at its own address, with time to
 * answer, and the runtime's last log lines — whether the agent is slow or the Service is not
 * routed.
 */
async function askedDirectly(pod: AgentPod): Promise<string> {
  const at = Date.now();
  let outcome: string;
  try {
    const { status, body } = await ask(podAgentUrl(pod), 30_000);
    outcome = `${String(status)} ${JSON.stringify(body).slice(0, 200)}`;
  } catch (err) {
    outcome = errorText(err);
  }
  const asked = `the pod at its address answered in ${String(Date.now() - at)} ms: ${outcome}`;
  try {
    const { stdout } = await kubectl(
      ['logs', '-n', ns.name, pod.metadata?.name ?? '', '-c', 'runtime', '--tail', '15'],
      { timeoutMs: 15_000 },
    );
    return `${asked}\nthe runtime's last log lines:\n${stdout}`;
  } catch (err) {
    return `${asked}\nthe runtime's log unread: ${errorText(err)}`;
  }
}

/**
 * Waits until `count` calls in a row through the Service are answered 200: every endpoint
 * behind it is routed, not only the first one kube-proxy programmed.
 */
async function routedSteadily(name: string, service: string, count: number): Promise<void> {
  let inARow = 0;
  const seen: { status: number | 'lost'; ms: number; why?: string }[] = [];
  try {
    await waitFor(
      async () => {
        const at = Date.now();
        try {
          const { status } = await ask(service, 5_000, { fresh: true });
          seen.push({ status, ms: Date.now() - at });
          inARow = status === 200 ? inARow + 1 : 0;
        } catch (err) {
          seen.push({ status: 'lost', ms: Date.now() - at, why: errorText(err) });
          inARow = 0;
        }
        return inARow >= count;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        description: `${String(count)} answers in a row through ${name}'s Service`,
      },
    );
  } catch (err) {
    throw new Error(
      `${errorText(err)}; not answered 200: ${JSON.stringify(tally(seen.filter((s) => s.status !== 200)))}\n` +
        (await reach.describeServiceRoute(ns.name, name)),
    );
  }
}

/** Calls that went wrong, counted by what happened: `429` or `lost: <error>`, with the slowest. */
function tally(
  calls: readonly { status: number | 'lost'; ms: number; why?: string }[],
): Record<string, { count: number; slowestMs: number }> {
  const counts: Record<string, { count: number; slowestMs: number }> = {};
  for (const { status, ms, why } of calls) {
    const key = status === 'lost' ? `lost: ${why ?? '?'}` : String(status);
    const entry = (counts[key] ??= { count: 0, slowestMs: 0 });
    entry.count += 1;
    entry.slowestMs = Math.max(entry.slowestMs, ms);
  }
  return counts;
}

const podAgentUrl = (pod: AgentPod): string => {
  if (pod.status?.podIP === undefined) throw new Error(`${pod.metadata?.name ?? '?'} has no IP`);
  return `http://${pod.status.podIP}:${String(AGENT_PORT)}`;
};

/**
 * Run inside a container: every environment variable of its main process and every file of
 * every volume the kubelet mounted into it (Secrets, ConfigMaps, the service-account token, the
 * projected and downward-API files, /etc/hosts and the like), as JSON: where `needle` occurs,
 * and how many files were read. Python for the Python image; Node, the only program the
 * distroless-like images have, for the others.
 */
const SCAN_PY = `
import json, os, sys
needle = sys.argv[1].encode()
found, files = [], 0
if needle in open('/proc/1/environ', 'rb').read(): found.append('env')
skip = ('/', '/proc', '/sys', '/dev')
mounts = [l.split()[1] for l in open('/proc/self/mounts') if l.split()[1] not in skip and not l.split()[1].startswith(('/proc/', '/sys/', '/dev/pts', '/dev/mqueue', '/dev/shm'))]
for m in mounts:
    paths = [m] if os.path.isfile(m) else [os.path.join(d, f) for d, _, fs in os.walk(m) for f in fs]
    for p in paths:
        try: data = open(p, 'rb').read()
        except OSError: continue
        files += 1
        if needle in data: found.append(p)
print(json.dumps({'found': found, 'files': files, 'mounts': mounts}))
`;
const SCAN_JS = `
const fs = require('node:fs'); const path = require('node:path');
const needle = process.argv[1]; const found = []; let files = 0;
if (fs.readFileSync('/proc/1/environ', 'latin1').includes(needle)) found.push('env');
const skip = new Set(['/', '/proc', '/sys', '/dev']);
const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\\n').filter(Boolean).map((l) => l.split(' ')[1])
  .filter((m) => !skip.has(m) && !/^\\/(proc|sys)\\//.test(m) && !/^\\/dev\\/(pts|mqueue|shm)/.test(m));
const walk = (p) => { const s = fs.statSync(p); if (s.isDirectory()) for (const f of fs.readdirSync(p)) walk(path.join(p, f)); else { files++; if (fs.readFileSync(p, 'latin1').includes(needle)) found.push(p); } };
for (const m of mounts) { try { walk(m); } catch {} }
console.log(JSON.stringify({ found, files, mounts }));
`;

async function scanContainer(
  pod: AgentPod,
  container: string,
  interpreter: 'python' | 'node',
): Promise<{ found: string[]; files: number; mounts: string[] }> {
  const command =
    interpreter === 'python'
      ? ['python3', '-c', SCAN_PY, PROVIDER_KEY]
      : ['/nodejs/bin/node', '-e', SCAN_JS, PROVIDER_KEY];
  const { stdout } = await kubectl([
    'exec',
    '-n',
    ns.name,
    pod.metadata?.name ?? '',
    '-c',
    container,
    '--',
    ...command,
  ]);
  return JSON.parse(stdout) as { found: string[]; files: number; mounts: string[] };
}

describeOnRealNode("the team's own agent beside the runtime, on the real node", () => {
  it.each(LANGUAGES)(
    'runs the %s agent with the runtime as a native sidecar, and it answers through its Service',
    async (language) => {
      const name = AGENTS[language];
      const agent = await waitFor(
        async () => {
          const a = await getAgent(ns.name, name);
          return isReadyAgent(a) && a;
        },
        { timeoutMs: 240_000, description: `${name} Ready` },
      );
      expect(condition(agent, 'AgentEnvOverridden')?.status).toBe('False');
      const pod = await readyPod(name);
      expect(pod.spec?.initContainers?.map((c) => [c.name, c.restartPolicy])).toEqual([
        ['runtime', 'Always'],
      ]);
      expect(pod.spec?.containers?.map((c) => c.name)).toEqual(['agent']);
      const answer = await routedAnswer(name);
      expect(answer).toMatchObject({ status: 200, body: { model: PRIMARY_MODEL } });
      expect(answer.body.text?.length).toBeGreaterThan(0);
      // Status names the image the pods run, with the digest the kubelet resolved.
      const running = await waitFor(
        async () => (await getAgent(ns.name, name))?.status?.agent?.running?.[0],
        { timeoutMs: 30_000, description: `${name} status.agent.running` },
      );
      expect(running.image).toContain(images[language].replace(/^localhost\//, ''));
      expect(running.imageID).toMatch(/sha256:/);
    },
  );

  it.each(LANGUAGES)(
    "exports the %s agent's calls through its sidecar as every way the runtime runs does: the same spans and gen_ai metrics",
    async (language) => {
      if (collector === undefined) throw new Error('no Collector');
      const pod = await readyPod(AGENTS[language]);
      expect((await ask(podAgentUrl(pod))).status).toBe(200);
      const spans = await spanShapesOf(collector, sidecarService(language), 60_000);
      // One span a relayed call (test/support/telemetryShape.ts): no server span beside it.
      expect(spans['POST /v1/messages']).toBeUndefined();
      expect(spans[`chat ${PRIMARY_MODEL}`]?.names).toEqual(CHAT_SPAN_ATTRIBUTES);
      expect(spans[`chat ${PRIMARY_MODEL}`]?.genAi).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': PRIMARY_MODEL,
      });
      const points = await tokenUsageOf(collector, sidecarService(language), 60_000);
      expect(points.map((p) => [p.type, p.names])).toEqual(
        ['input', 'output'].map((type) => [type, TOKEN_USAGE_ATTRIBUTES]),
      );
    },
  );

  it.each(LANGUAGES)(
    "gives the %s agent's first call at start an answer: the runtime was ready before it started",
    async (language) => {
      const pod = await readyPod(AGENTS[language]);
      const response = await fetch(`${podAgentUrl(pod)}/startup`);
      expect(await response.json()).toMatchObject({ status: 200, body: { model: PRIMARY_MODEL } });
    },
  );

  it.each(LANGUAGES)(
    "leaves the provider key out of the %s agent container's environment and mounted files",
    async (language) => {
      const pod = await readyPod(AGENTS[language]);
      const agent = await scanContainer(pod, 'agent', language === 'python' ? 'python' : 'node');
      // The same scan in the runtime container finds the key, so it can find one.
      const runtime = await scanContainer(pod, 'runtime', 'node');
      expect(runtime.found).toContain('env');
      expect(agent.files).toBeGreaterThan(0);
      expect(agent.found).toEqual([]);
      // Nor does the agent hold the runtime's API token.
      expect(agent.mounts).not.toContain('/var/run/secrets/kubernetes.io/serviceaccount');
      expect(runtime.mounts).toContain('/var/run/secrets/kubernetes.io/serviceaccount');
    },
  );

  it('refuses the per-pod key from outside the pod', async () => {
    const pod = await readyPod(AGENTS.python);
    const response = await fetch(`http://${pod.status?.podIP ?? ''}:8080/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': `breakwater-pod-${pod.metadata?.uid ?? ''}`,
      },
      body: JSON.stringify({
        model: PRIMARY_MODEL,
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    await response.arrayBuffer();
    expect(response.status).toBe(401);
  });

  it("confines the runtime sidecar's own token to its pod: its annotations there, nothing on a sibling", async () => {
    const [own, sibling] = (await allReadyPods())
      .filter((p) => p.metadata?.labels?.['breakwater.dev/agent'] === AGENTS.typescript)
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    if (own === undefined || sibling === undefined)
      throw new Error('two pods of the TypeScript agent');
    const ownName = own.metadata?.name ?? '';
    const siblingName = sibling.metadata?.name ?? '';
    // The token the kubelet mounted into the runtime container (and only there).
    const { stdout: token } = await kubectl([
      'exec',
      '-n',
      ns.name,
      ownName,
      '-c',
      'runtime',
      '--',
      '/nodejs/bin/node',
      '-e',
      `process.stdout.write(require('fs').readFileSync('${SERVICE_ACCOUNT_TOKEN}', 'utf8'))`,
    ]);
    const runtime = await actAs(token);
    const { stdout } = await runtime.kubectl(['auth', 'whoami', '-o', 'json']);
    const { status } = JSON.parse(stdout) as {
      status: { userInfo: { extra?: Record<string, string[]> } };
    };
    expect(status.userInfo.extra?.['authentication.kubernetes.io/pod-name']).toEqual([ownName]);
    const probe = (value: string | null) => ({
      metadata: { annotations: { 'breakwater.dev/confinement-probe': value } },
    });
    const patch = async (pod: string, body: object): Promise<string> => {
      try {
        await runtime.client.patch(Kinds.Pod, ns.name, pod, body, 'merge');
        return 'allowed';
      } catch (err) {
        if (!isKubeApiError(err)) throw err;
        return err.message;
      }
    };
    expect(await patch(ownName, probe('own'))).toBe('allowed');
    expect(await patch(siblingName, probe('sibling'))).toContain(
      `may change only its own pod, not ${ns.name}/${siblingName}`,
    );
    // Its own pod's labels stay out of reach too.
    expect(await patch(ownName, { metadata: { labels: { forged: 'yes' } } })).toContain(
      'may change only breakwater.dev/ annotations',
    );
    expect(await patch(ownName, probe(null))).toBe('allowed');
  });

  it('calls an MCP tool through the sidecar at the injected /mcp/<name> URL, with the pod key', async () => {
    const answer = await askTool(await readyPod(AGENTS.typescript), '42');
    expect(answer.content?.[0]?.text).toBe('note 42');
  });

  it('reaches the sidecar with a policy edit without restarting the agent', async () => {
    const before = await allReadyPods();
    const oldHashes = before.map(podPolicyHash);
    await mergePatch(ns.name, `rlp/${RLP}`, { spec: { requests: { perSecond: 50, burst: 100 } } });
    const after = await waitFor(
      async () => {
        const pods = await allReadyPods();
        const byUid = new Map(pods.map((p) => [p.metadata?.uid, p]));
        const now = before.map((p) => byUid.get(p.metadata?.uid));
        return now.every((p, i) => p !== undefined && podPolicyHash(p) !== oldHashes[i]) && now;
      },
      { timeoutMs: 60_000, description: 'every sidecar to report the edited policy' },
    );
    const identity = (pod: AgentPod) => ({
      uid: pod.metadata?.uid,
      containers: [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ].map((c) => [c.name, c.containerID, c.restartCount]),
    });
    expect(after.map((p) => (p === undefined ? undefined : identity(p)))).toEqual(
      before.map(identity),
    );
  });

  it('serves from the fallback model while the primary is down, then opens the breakers in a 529 storm and kubectl get cbp shows them', async () => {
    const sim = await simulatorIn(ns.name, reach);
    const pods = await allReadyPods();
    try {
      await sim.setFault({ status: 529, model: PRIMARY_MODEL });
      for (const pod of pods) {
        expect(await ask(podAgentUrl(pod))).toMatchObject({
          status: 200,
          body: { model: FALLBACK_MODEL },
        });
      }
      await sim.setFault({ status: 529 });
      for (const pod of pods) {
        const statuses: number[] = [];
        while (statuses.length < 30) {
          const { status } = await ask(podAgentUrl(pod));
          statuses.push(status);
          // The SDK hands the agent the runtime's 503: every breaker open, no fallback to serve.
          if (status === 503) break;
        }
        expect(statuses.at(-1)).toBe(503);
      }
      const row = await waitFor(
        async () => {
          const r = await kubectlRow(ns.name, `cbp/${CBP}`);
          const all = `${String(TOTAL_REPLICAS)}/${String(TOTAL_REPLICAS)}`;
          return r['STATE'] === 'Open' && r['OPEN'] === all && r;
        },
        { timeoutMs: 30_000, description: 'kubectl get cbp to show every replica Open' },
      );
      expect(Number(row['TRIPS'])).toBeGreaterThanOrEqual(TOTAL_REPLICAS);
    } finally {
      await sim.clearFaults();
    }
  });

  it("reads every runtime sidecar's /debug/stats with kubectl breakwater top, MCP tools per tool", async () => {
    await allReadyPods();
    // One more MCP call, so the window holds one whatever ran before.
    await askTool(await readyPod(AGENTS.typescript), '7');
    const top = await kubectlBreakwater(['top', '-n', ns.name, '-o', 'json']);
    expect(top.stderr).toBe('');
    const { agents } = JSON.parse(top.stdout) as {
      agents: {
        name: string;
        running: number;
        count: number;
        unread: unknown[];
        tools: { tool: string; count: number; errors: number; p95Ms: number | null }[];
      }[];
    };
    for (const language of LANGUAGES) {
      const agent = agents.find((a) => a.name === AGENTS[language]);
      expect(agent).toMatchObject({ running: REPLICAS[language], unread: [] });
      expect(agent?.count).toBeGreaterThan(0);
    }
    // The agent's calls through /mcp/notes, as `top` prints them: server__tool, no errors.
    const tools = agents.find((a) => a.name === AGENTS.typescript)?.tools ?? [];
    const lookup = tools.find((t) => t.tool === 'notes__lookup');
    expect(lookup).toMatchObject({ errors: 0 });
    expect(lookup?.count).toBeGreaterThanOrEqual(1);
    expect(lookup?.p95Ms).not.toBeNull();
  });

  it('loses no call when a pod is deleted under steady traffic through the Service', async () => {
    const name = AGENTS.typescript;
    const service = await reach.hostServiceUrl(ns.name, name, 'http');
    if (service === undefined) throw new Error('no route to the Service from this machine');
    // The storm's breakers close on each pod's first call after openDuration: every pod must
    // have had one before the traffic starts, or the Service sends some to a pod still open.
    const pods = (await allReadyPods()).filter(
      (p) => p.metadata?.labels?.['breakwater.dev/agent'] === name,
    );
    for (const each of pods) {
      await waitFor(async () => (await ask(podAgentUrl(each))).status === 200, {
        timeoutMs: 20_000,
        intervalMs: 500,
        description: `${each.metadata?.name ?? name} to answer again`,
      });
    }
    // The Service reaches every one of them before the deletion: a loss after it is the drain's.
    await routedSteadily(name, service, 12);
    const [pod] = pods;
    if (pod === undefined) throw new Error(`no pod of ${name}`);
    const podName = pod.metadata?.name ?? '';
    const sent: { at: number; status: number | 'lost'; ms: number; why?: string }[] = [];
    let stop = false;
    // Paced to about 27 calls a second in all, inside the policy's 50 a second even when one
    // replica takes them all: unpaced, a fast node could spend the budget and a 429 would read
    // as a lost call.
    const callers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const at = Date.now();
        try {
          const { status } = await ask(service);
          sent.push({ at, status, ms: Date.now() - at });
        } catch (err) {
          // What failed, and how long it took, tells a refused connection from a stall.
          sent.push({ at, status: 'lost', ms: Date.now() - at, why: errorText(err) });
        }
        const pause = 150 - (Date.now() - at);
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
      }
    });
    await waitFor(() => sent.filter((s) => s.status === 200).length >= 8, {
      timeoutMs: 20_000,
      description: 'traffic to be served before the deletion',
    });
    const deletedAt = Date.now();
    await api().delete(Kinds.Pod, ns.name, podName);
    await waitFor(
      async () =>
        (await api().get<AgentPod>(Kinds.Pod, ns.name, podName))?.metadata?.uid !==
        pod.metadata?.uid,
      { timeoutMs: 30_000, description: 'the deleted pod to be gone' },
    );
    stop = true;
    await Promise.all(callers);
    const after = sent.filter((s) => s.at >= deletedAt);
    const failed = sent.filter((s) => s.status !== 200);
    process.stderr.write(
      `[own-agent] pod deletion: ${String(sent.length)} calls, ${String(after.length)} after it began; ` +
        `not answered 200: ${JSON.stringify(tally(failed))}\n`,
    );
    if (failed.length > 0)
      process.stderr.write(`${await reach.describeServiceRoute(ns.name, name)}\n`);
    expect(after.length).toBeGreaterThan(0);
    expect(tally(failed)).toEqual({});
  });
});

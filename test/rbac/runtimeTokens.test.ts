/**
 * What an agent's runtime may do to pods with its own credentials, judged by the API server:
 * the operator's Role and config/admission's policy, installed for real, and a token bound to
 * one of the agent's pods exactly as the kubelet's would be (the pod-name claim included),
 * presented with no client certificate. The runtime may write the breakwater.dev/ annotations
 * of its own pod, and nothing else: not a sibling's report, not its labels, image or status,
 * not a pod in another namespace. Its real reports keep reaching its pod meanwhile.
 *
 * Patches go as the runtime sends them, a merge patch from its own client: `kubectl patch`
 * reads the pod first, and the runtime's Role grants no read of pods.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { isKubeApiError, type PatchType } from '../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { agentDeployment } from '../support/agentFixtures.ts';
import {
  agentPods,
  getAgent,
  isPodReady,
  mergePatch,
  podPolicyHash,
  type PodView,
} from '../support/breakwaterCluster.ts';
import { kubectl, uniqueNamespace, type TestNamespace } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { actAs, serviceAccountToken, type TokenHolder } from '../support/serviceAccountTokens.ts';
import { installRuntimePodPolicy, type InstalledPolicy } from './runtimePodPolicy.ts';

jest.setTimeout(180_000);

const AGENT = 'reporter';
const ACCOUNT = `breakwater-runtime-${AGENT}`;
const BYSTANDER = 'bystander';

let scenario: Scenario;
let ns: TestNamespace;
let elsewhere: TestNamespace;
let policy: InstalledPolicy;
let own: PodView;
let sibling: PodView;
let runtime: TokenHolder;

const nameOf = (pod: PodView): string => pod.metadata?.name ?? '';

/** Both replicas Ready, each having reported the agent's current policy hash on itself. */
async function reportingPods(previousHash?: string): Promise<PodView[]> {
  return eventually(
    async () => {
      const hash = (await getAgent(ns.name, AGENT))?.status?.policy?.hash;
      const pods = (await agentPods(ns.name, AGENT)).filter(isPodReady);
      return (
        hash !== undefined &&
        hash !== previousHash &&
        pods.length === 2 &&
        pods.every((pod) => podPolicyHash(pod) === hash) &&
        pods.sort((a, b) => nameOf(a).localeCompare(nameOf(b)))
      );
    },
    { timeoutMs: 120_000, description: `both pods of ${AGENT} to report its policy hash` },
  );
}

beforeAll(async () => {
  elsewhere = await uniqueNamespace('rbac-tokens-elsewhere');
  // Installed before the runtimes start, so that their own reports go through it too.
  policy = await installRuntimePodPolicy(`-${elsewhere.name}`);
  scenario = await startScenario({ prefix: 'rbac-tokens', seed: 5 }, (sim) => [
    agentDeployment(AGENT, { providerURL: sim.url, replicas: 2 }),
  ]);
  ns = scenario.ns;
  await kubectl([
    'run',
    BYSTANDER,
    '-n',
    elsewhere.name,
    '--image=busybox',
    '--restart=Never',
    '--command',
    '--',
    'sleep',
    '600',
  ]);
  const pods = await reportingPods();
  [own, sibling] = pods as [PodView, PodView];
  const token = await serviceAccountToken({
    namespace: ns.name,
    serviceAccount: ACCOUNT,
    pod: { name: nameOf(own), uid: own.metadata?.uid ?? '' },
  });
  runtime = await actAs(token);
}, 180_000);

afterAll(async () => {
  await scenario.end();
  await policy.uninstall();
  await elsewhere.cleanup();
});

type Target = 'its own pod' | 'its sibling' | 'a pod in another namespace';

type Outcome = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

async function patchPod(
  as: TokenHolder,
  target: Target,
  patch: object,
  options: { type?: PatchType; subresource?: string } = {},
): Promise<Outcome> {
  const [namespace, pod] =
    target === 'its own pod'
      ? [ns.name, nameOf(own)]
      : target === 'its sibling'
        ? [ns.name, nameOf(sibling)]
        : [elsewhere.name, BYSTANDER];
  try {
    await as.client.patch(
      Kinds.Pod,
      namespace,
      pod,
      patch,
      options.type ?? 'merge',
      options.subresource,
    );
    return { allowed: true };
  } catch (err) {
    if (!isKubeApiError(err)) throw err;
    return { allowed: false, message: err.message };
  }
}

const breakersPatch = {
  metadata: { annotations: { 'breakwater.dev/breakers': '{"forged":{"state":"Open"}}' } },
};

describe("a runtime's pod-bound token", () => {
  it('names its pod in the claim the policy reads', async () => {
    const { stdout } = await runtime.kubectl(['auth', 'whoami', '-o', 'json']);
    const { status } = JSON.parse(stdout) as {
      status: { userInfo: { username: string; extra?: Record<string, string[]> } };
    };
    expect(status.userInfo.username).toBe(`system:serviceaccount:${ns.name}:${ACCOUNT}`);
    expect(status.userInfo.extra?.['authentication.kubernetes.io/pod-name']).toEqual([nameOf(own)]);
  });

  it('reads no pod, not even its own', async () => {
    const result = await runtime.kubectl(['get', 'pod', nameOf(own), '-n', ns.name], {
      allowFailure: true,
    });
    expect(result.stderr).toContain(`cannot get resource "pods" in API group ""`);
  });

  it("patches its own pod's breakwater.dev/breakers annotation", async () => {
    expect(await patchPod(runtime, 'its own pod', breakersPatch)).toEqual({ allowed: true });
    const { stdout } = await kubectl([
      'get',
      'pod',
      nameOf(own),
      '-n',
      ns.name,
      '-o',
      'jsonpath={.metadata.annotations.breakwater\\.dev/breakers}',
    ]);
    expect(stdout).toBe('{"forged":{"state":"Open"}}');
  });

  it.each<[string, Target, object, { type?: PatchType; subresource?: string }, string]>([
    [
      "another pod's breakwater.dev/breakers annotation",
      'its sibling',
      breakersPatch,
      {},
      'may change only its own pod, not {ns}/{sibling}',
    ],
    [
      "its own pod's labels",
      'its own pod',
      { metadata: { labels: { 'breakwater.dev/agent': 'someone-else' } } },
      {},
      'may change only breakwater.dev/ annotations on its pod; this request also changes metadata.labels',
    ],
    [
      "its own pod's image",
      'its own pod',
      [{ op: 'replace', path: '/spec/containers/0/image', value: 'attacker/image:latest' }],
      { type: 'json' },
      'also changes spec',
    ],
    [
      'an annotation of its own pod outside breakwater.dev/',
      'its own pod',
      { metadata: { annotations: { 'prometheus.io/scrape': 'false' } } },
      {},
      'also changes annotation prometheus.io/scrape',
    ],
    [
      "its own pod's status",
      'its own pod',
      { status: { conditions: [{ type: 'Ready', status: 'False' }] } },
      { subresource: 'status' },
      'cannot patch resource "pods/status"',
    ],
    [
      'a pod in another namespace',
      'a pod in another namespace',
      breakersPatch,
      {},
      'cannot patch resource "pods" in API group "" in the namespace "{elsewhere}"',
    ],
  ])('is refused %s', async (_what, target, patch, options, message) => {
    const expected = message
      .replace('{ns}', ns.name)
      .replace('{sibling}', nameOf(sibling))
      .replace('{elsewhere}', elsewhere.name);
    expect(await patchPod(runtime, target, patch, options)).toEqual({
      allowed: false,
      message: expect.stringContaining(expected),
    });
  });

  it("leaves the sibling's own report alone", async () => {
    const { stdout } = await kubectl(['get', 'pod', nameOf(sibling), '-n', ns.name, '-o', 'json']);
    const annotations = (JSON.parse(stdout) as PodView).metadata?.annotations ?? {};
    expect(annotations['breakwater.dev/breakers']).not.toContain('forged');
  });
});

describe('a token of the runtime bound to no pod', () => {
  it('is refused even its own pod: admission cannot tell which pod is its own', async () => {
    const unbound = await actAs(
      await serviceAccountToken({ namespace: ns.name, serviceAccount: ACCOUNT }),
    );
    expect(await patchPod(unbound, 'its own pod', breakersPatch)).toEqual({
      allowed: false,
      message: expect.stringContaining(
        `Breakwater runtime system:serviceaccount:${ns.name}:${ACCOUNT} may change only its own pod, not ${ns.name}/${nameOf(own)}: its token is bound to no pod`,
      ),
    });
  });
});

describe('the runtimes themselves, under the policy', () => {
  it('report a new policy on their own pods', async () => {
    await mergePatch(ns.name, `agentdeployment/${AGENT}`, { spec: { model: { maxTokens: 80 } } });
    const before = podPolicyHash(own);
    const pods = await reportingPods(before);
    expect(pods.map(nameOf)).toEqual([nameOf(own), nameOf(sibling)]);
  });
});

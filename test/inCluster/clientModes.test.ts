/**
 * The four real clients (the Python `anthropic` SDK, LiteLLM, the Vercel AI SDK, LangChain JS)
 * against the runtime in the cluster's two modes, both reading their policy from the API
 * server (`--agent --namespace`): the bundled agent's runtime, and the runtime as a native
 * sidecar beside the team's own agent (the in-cluster suite's TypeScript agent image, idle:
 * the clients call the sidecar at the pod's address). The operator and the simulator run on
 * this machine (operatorScenario.ts). Each client makes a plain and a streamed call, meets
 * the provider's 529 as the API's overloaded error with the provider's request id, and meets a
 * ForcedOpen breaker (openAnswer unset: fail fast) as a 503 with the runtime's id, making the
 * attempts it makes at the same breaker on this machine (test/clients/: the same counts in
 * `--policy` and `--manifests` mode). Attempts are counted at the runtime's scrape, and the
 * simulator sees none.
 *
 * Native sidecars are the kubelet's: this runs on a node routed from this machine (the suites'
 * kind cluster); elsewhere it is skipped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ChatAnthropic } from '@langchain/anthropic';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, streamText } from 'ai';
import { agentDeployment, circuitBreakerPolicy } from '../support/agentFixtures.ts';
import {
  agentPods,
  isPodReady,
  podHttpUrl,
  scrapePod,
  type PodView,
} from '../support/breakwaterCluster.ts';
import {
  CLIENT_KEY,
  PRIMARY_MODEL,
  PROVIDER_ID,
  PROVIDER_OVERLOADED,
  RUNTIME_ID,
  pythonCase,
  runPythonClient,
  type CaseLine,
} from '../support/clientRuntimes.ts';
import { apiCallError, failure } from '../support/clientErrors.ts';
import { kubectl } from '../support/kube.ts';
import { eventually } from '../support/operator.ts';
import { startScenario, type Scenario } from '../support/operatorScenario.ts';
import { sample } from '../support/standaloneRuntime.ts';
import { buildAgentImage } from './agentImages.ts';

jest.setTimeout(240_000);

const realNode = process.env['BREAKWATER_CLUSTER_ROUTED'] === '1';
const describeOnRealNode = realNode ? describe : describe.skip;

type ClusterMode = 'bundled' | 'sidecar';
const CLUSTER_MODES: readonly ClusterMode[] = ['bundled', 'sidecar'];

const KEYS = 'clients-keys';
/** The breaker the serving agents use: the cases' 529s must not open it. */
const CLOSED = 'clients-closed';
const FORCED_OPEN = 'clients-forced-open';
/** LangChain's retries, as test/clients/langchain.test.ts sets them. */
const LANGCHAIN_RETRIES = 2;
/** The agent container idles: the clients call the runtime beside it. */
const IDLE_AGENT = ['/nodejs/bin/node', '-e', 'setInterval(() => undefined, 1 << 30)'];

const agentName = (mode: ClusterMode, breaker: 'serving' | 'open') => `${breaker}-${mode}`;

let scenario: Scenario;
const pods = new Map<string, PodView>();

function agentsFor(image: string, providerURL: string): object[] {
  return CLUSTER_MODES.flatMap((mode) =>
    (['serving', 'open'] as const).map((breaker) =>
      agentDeployment(agentName(mode, breaker), {
        providerURL,
        circuitBreakerPolicy: breaker === 'open' ? FORCED_OPEN : CLOSED,
        spec: {
          model: { name: PRIMARY_MODEL, maxTokens: 64 },
          access: { clientKeysSecretRef: { name: KEYS } },
          ...(mode === 'sidecar' ? { agent: { image, command: IDLE_AGENT } } : {}),
        },
      }),
    ),
  );
}

async function readyPod(name: string): Promise<PodView> {
  const known = pods.get(name);
  if (known !== undefined) return known;
  const pod = await eventually(
    async () => (await agentPods(scenario.ns.name, name)).find(isPodReady),
    { timeoutMs: 180_000, description: `a ready pod of ${name}` },
  ).catch(async (error: unknown) => {
    throw new Error(`${String(error)}\n${await whatThePodsSay()}`);
  });
  pods.set(name, pod);
  return pod;
}

/** The namespace's pods and its recent events, for a pod that never became ready. */
async function whatThePodsSay(): Promise<string> {
  const ns = scenario.ns.name;
  const said = await Promise.all(
    [
      ['get', 'pods', '-n', ns, '-o', 'wide'],
      ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'],
    ].map((args) =>
      kubectl(args, { timeoutMs: 30_000 }).then(
        (r) => r.stdout,
        (e: unknown) => `kubectl ${args.join(' ')}: ${String(e)}`,
      ),
    ),
  );
  return said.join('\n');
}

/** The Messages requests the pod's runtime has received so far. */
async function messagesAt(pod: PodView): Promise<number> {
  return sample(await scrapePod(pod), 'agent_requests_total', { route: '/v1/messages' });
}

function errorOf(line: CaseLine | undefined): Readonly<Record<string, unknown>> {
  expect(line?.ok).toBe(false);
  return line?.error ?? {};
}

const vercel = (url: string) =>
  createAnthropic({ baseURL: `${url}/v1`, apiKey: CLIENT_KEY })(PRIMARY_MODEL);

const langchain = (url: string, maxRetries: number) =>
  new ChatAnthropic({ model: PRIMARY_MODEL, anthropicApiUrl: url, apiKey: CLIENT_KEY, maxRetries });

/** LangChain's error: its bundled SDK's, rethrown. */
interface SdkError {
  readonly constructor: { name: string };
  readonly status?: number;
  readonly requestID?: string | null;
  readonly headers?: Headers;
}

describeOnRealNode('the four clients against the runtime in the cluster', () => {
  beforeAll(async () => {
    const image = await buildAgentImage('typescript');
    scenario = await startScenario({ prefix: 'client-modes', seed: 52 }, (sim) => [
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: KEYS }, stringData: { c: CLIENT_KEY } },
      circuitBreakerPolicy(CLOSED, { failureThreshold: 1_000 }),
      circuitBreakerPolicy(FORCED_OPEN, {
        override: { state: 'ForcedOpen', reason: 'clients: provider down' },
      }),
      ...agentsFor(image, sim.url),
    ]);
  }, 20 * 60_000);

  afterAll(async () => {
    await scenario.end();
  });

  describe.each(CLUSTER_MODES)('the %s runtime', (mode) => {
    const serving = () => readyPod(agentName(mode, 'serving'));
    const open = () => readyPod(agentName(mode, 'open'));

    afterEach(async () => {
      await scenario.sim.clearFaults();
    });

    it('serves each client a plain and a streamed call', async () => {
      const url = podHttpUrl(await serving());
      for (const client of ['anthropic', 'litellm'] as const) {
        const [plain, stream] = await runPythonClient(client, ['plain', 'stream'], {
          baseURL: url,
        });
        expect(plain).toMatchObject({ ok: true, text: 'You said: hello' });
        expect(plain?.request_id).toMatch(RUNTIME_ID);
        expect(stream).toMatchObject({ ok: true, text: 'You said: hello' });
      }
      const result = await generateText({ model: vercel(url), prompt: 'hello' });
      expect(result.text).toBe('You said: hello');
      expect(result.finalStep.response.headers?.['request-id']).toMatch(RUNTIME_ID);
      expect(await streamText({ model: vercel(url), prompt: 'hello' }).text).toBe(
        'You said: hello',
      );
      expect((await langchain(url, 0).invoke('hello')).content).toBe('You said: hello');
      let streamed = '';
      for await (const chunk of await langchain(url, 0).stream('hello')) streamed += chunk.text;
      expect(streamed).toBe('You said: hello');
    });

    it("gives each client the provider's 529 as the API's overloaded error, with the provider's id", async () => {
      const url = podHttpUrl(await serving());
      const { sim } = scenario;

      await sim.setFault(PROVIDER_OVERLOADED);
      const anthropic = errorOf(
        await pythonCase('anthropic', 'plain', { baseURL: url, maxRetries: 0 }),
      );
      expect(anthropic).toMatchObject({
        class: 'OverloadedError',
        status: 529,
        type: 'overloaded_error',
      });
      expect(anthropic.request_id).toMatch(PROVIDER_ID);

      await sim.setFault(PROVIDER_OVERLOADED);
      const litellm = errorOf(await pythonCase('litellm', 'plain', { baseURL: url }));
      expect(litellm).toMatchObject({ class: 'InternalServerError', provider_status: 529 });
      expect(litellm.header_request_id).toMatch(PROVIDER_ID);

      await sim.setFault(PROVIDER_OVERLOADED);
      const vercelError = apiCallError(
        await failure(generateText({ model: vercel(url), prompt: 'hello', maxRetries: 0 })),
      );
      expect(vercelError.statusCode).toBe(529);
      expect(vercelError.responseHeaders?.['request-id']).toMatch(PROVIDER_ID);

      await sim.setFault(PROVIDER_OVERLOADED);
      const lc = (await failure(langchain(url, 0).invoke('hello'))) as SdkError;
      expect(lc.status).toBe(529);
      expect(lc.requestID).toMatch(PROVIDER_ID);
    });

    it('gives each client a ForcedOpen breaker as a 503 with no retry asked for', async () => {
      const pod = await open();
      const url = podHttpUrl(pod);
      const { sim } = scenario;
      await sim.resetStats();
      const attempts: Record<string, number> = {};
      const counted = async (client: string, call: () => Promise<void>) => {
        const before = await messagesAt(pod);
        await call();
        attempts[client] = (await messagesAt(pod)) - before;
      };

      await counted('anthropic', async () => {
        const error = errorOf(await pythonCase('anthropic', 'plain', { baseURL: url }));
        expect(error).toMatchObject({
          class: 'ServiceUnavailableError',
          status: 503,
          type: 'overloaded_error',
          retry_after: null,
          should_retry: 'false',
        });
        expect(error.request_id).toMatch(RUNTIME_ID);
      });
      await counted('litellm', async () => {
        const error = errorOf(await pythonCase('litellm', 'plain', { baseURL: url }));
        expect(error).toMatchObject({ class: 'InternalServerError', should_retry: 'false' });
        expect(error.header_request_id).toMatch(RUNTIME_ID);
      });
      await counted('vercel', async () => {
        const last = apiCallError(
          await failure(generateText({ model: vercel(url), prompt: 'hello' })),
        );
        expect(last.statusCode).toBe(503);
        expect(last.responseHeaders?.['x-should-retry']).toBe('false');
        expect(last.responseHeaders?.['request-id']).toMatch(RUNTIME_ID);
      });
      await counted('langchain', async () => {
        const error = (await failure(
          langchain(url, LANGCHAIN_RETRIES).invoke('hello'),
        )) as SdkError;
        expect(error.status).toBe(503);
        expect(error.headers?.get('x-should-retry')).toBe('false');
        expect(error.requestID).toMatch(RUNTIME_ID);
      });

      // The Anthropic SDK and LiteLLM take x-should-retry: false; the Vercel AI SDK and
      // LangChain retry any 503 (their counts at the same breaker on this machine).
      expect(attempts).toEqual({
        anthropic: 1,
        litellm: 1,
        vercel: 3,
        langchain: 1 + LANGCHAIN_RETRIES,
      });
      expect((await sim.stats()).requests).toBe(0);
    });
  });
});

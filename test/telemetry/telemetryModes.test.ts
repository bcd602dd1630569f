/**
 * The same GenAI telemetry whichever way the runtime is run (issue 52: "the runtime in every
 * mode emitting the same telemetry"): one real OpenTelemetry Collector, the simulator, and the
 * runtime from a policy file (`--policy`) and from the sample manifests (`--manifests`), each
 * under its own service name; the same call through each; what the Collector wrote for one
 * service against the other's: the spans' names, kinds and attribute names, the GenAI
 * attributes' values, and the `gen_ai.*` metrics. The cluster's two ways read the same policy
 * document from the API server: test/inCluster/inCluster.test.ts (the bundled agent) and
 * test/inCluster/ownAgent.test.ts (the sidecar), each with a real Collector.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { FALLBACK_MODEL } from '../../contract/src/api/sampleModels.ts';
import { SPAN_KIND, startCollector, type OtelCollector } from '../support/otelCollector.ts';
import { startRuntime, type RuntimeHandle } from '../support/runtimeProcess.ts';
import {
  copySamples,
  SAMPLE_PROVIDER_KEY,
  type SampleManifests,
} from '../support/sampleManifests.ts';
import { startSimulator, type SimulatorHandle } from '../support/simulator.ts';
import {
  policyDocument,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import {
  CHAT_SPAN_ATTRIBUTES,
  spanShapesOf,
  TOKEN_USAGE_ATTRIBUTES,
  tokenUsageOf,
} from '../support/telemetryShape.ts';

let collector: OtelCollector;
let sim: SimulatorHandle;
let samples: SampleManifests;
let fromFile: StandaloneRuntime | undefined;
let fromManifests: RuntimeHandle | undefined;

const otel = (service: string): Record<string, string> => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
  OTEL_SERVICE_NAME: service,
  OTEL_BSP_SCHEDULE_DELAY: '50',
  OTEL_METRIC_EXPORT_INTERVAL: '300',
});

beforeAll(async () => {
  collector = await startCollector();
  sim = await startSimulator({ seed: 52, apiKey: SAMPLE_PROVIDER_KEY });
  samples = copySamples(sim.url);
}, 900_000);

afterAll(async () => {
  await fromFile?.stop();
  await fromManifests?.stop();
  await sim.stop();
  await collector.stop();
  samples.remove();
});

describe('the runtime’s telemetry in each way it runs', () => {
  it('is the same from a policy file and from the manifests', async () => {
    fromFile = await standaloneRuntime(
      policyDocument(sim.url, (d) => {
        d.model = { ...d.model, name: FALLBACK_MODEL };
      }),
      { ...otel('bw-modes-policy'), ANTHROPIC_API_KEY: SAMPLE_PROVIDER_KEY },
    );
    fromManifests = await startRuntime(
      ['--manifests', samples.dir, '--agent', 'assistant-development', '--log-level', 'warn'],
      otel('bw-modes-manifests'),
    );
    for (const url of [fromFile.runtime.url, fromManifests.url]) {
      const message = await new Anthropic({
        baseURL: url,
        apiKey: 'unused',
        maxRetries: 0,
      }).messages.create({
        model: FALLBACK_MODEL,
        max_tokens: 16,
        messages: [{ role: 'user', content: 'What is a breakwater?' }],
      });
      expect(message.usage.output_tokens).toBeGreaterThan(0);
    }

    const [policy, manifests] = await Promise.all([
      spanShapesOf(collector, 'bw-modes-policy'),
      spanShapesOf(collector, 'bw-modes-manifests'),
    ]);
    // One span a relayed call: the conventions' client span, no server span beside it.
    expect(Object.keys(policy)).toEqual([`chat ${FALLBACK_MODEL}`]);
    expect(policy[`chat ${FALLBACK_MODEL}`]?.kind).toBe(SPAN_KIND.CLIENT);
    expect(policy[`chat ${FALLBACK_MODEL}`]?.names).toEqual(CHAT_SPAN_ATTRIBUTES);
    expect(manifests).toEqual(policy);
    expect(policy[`chat ${FALLBACK_MODEL}`]?.genAi).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': FALLBACK_MODEL,
    });

    const policyPoints = await tokenUsageOf(collector, 'bw-modes-policy');
    expect(policyPoints).toEqual(
      ['input', 'output'].map((type) => ({ type, count: 1, names: TOKEN_USAGE_ATTRIBUTES })),
    );
    expect(await tokenUsageOf(collector, 'bw-modes-manifests')).toEqual(policyPoints);
  });
});

/**
 * In a pod: the policy comes from ConfigMap `<agent>-policy` and the client keys from the
 * Secret the policy names, both watched through the API (the Informer re-lists on 410, backs
 * off, and restarts silent watches); the pod's own annotations report what is in force.
 */
import { keysFromSecret } from '../access/clientKeys.ts';
import type { AgentRuntime } from '../agentRuntime.ts';
import type { PolicySourceOption } from '../cli/runtimeOptions.ts';
import { Informer } from '../kube/informer.ts';
import { HttpKubeClient, type KubeClient } from '../kube/kubeClient.ts';
import type { KubeObject } from '../kube/kubeObject.ts';
import { Kinds } from '../kube/resourceKinds.ts';
import { PodReporter } from '../reporting/podReporter.ts';
import { POLICY_CONFIGMAP_KEY, policyConfigMapName } from './policyDocument.ts';
import type { RunningSource, SourceDeps } from './policySources.ts';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Secret extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export function startClusterSources(
  option: Extract<PolicySourceOption, { kind: 'cluster' }>,
  runtime: AgentRuntime,
  deps: SourceDeps,
  client: KubeClient = HttpKubeClient.fromKubeconfig(),
): RunningSource {
  const { namespace, agent } = option;
  const name = policyConfigMapName(agent);
  const source = `configmap:${namespace}/${name}`;
  const configMaps = new Informer<ConfigMap>({
    client,
    kind: Kinds.ConfigMap,
    namespace,
    fieldSelector: `metadata.name=${name}`,
    clock: deps.clock,
    onRestart: (reason, error) => {
      deps.logger.warn({ reason, err: String(error) }, 'policy watch restarted');
    },
  });
  const offer = (cm: ConfigMap) => {
    const text = cm.data?.[POLICY_CONFIGMAP_KEY];
    if (text === undefined)
      runtime.store.reject(`${source} has no ${POLICY_CONFIGMAP_KEY} key`, source);
    else runtime.store.offerText(text, source);
  };
  configMaps.on({ added: offer, updated: offer });

  const secrets = new SecretFollower(client, namespace, runtime, deps);
  runtime.useClientKeySource(secrets);

  const podName = deps.env['POD_NAME'];
  let reporter: PodReporter | undefined;
  if (podName !== undefined && podName !== '') {
    reporter = new PodReporter({
      clock: deps.clock,
      patch: async (annotations) => {
        await client.patch(Kinds.Pod, namespace, podName, { metadata: { annotations } }, 'merge');
      },
      read: () => ({
        policyHash: runtime.active?.hash,
        breakers: runtime.active?.guard.breakerSummary() ?? {},
      }),
      onError: (err) => {
        deps.logger.warn({ err: String(err) }, 'pod annotation patch failed');
      },
    });
    const r = reporter;
    runtime.store.onChange(() => {
      r.poke();
    });
    runtime.onBreakerChange(() => {
      r.poke();
    });
  } else {
    deps.logger.warn('POD_NAME is not set: breaker state will not be reported on the pod');
  }

  void configMaps.start();
  return {
    async stop() {
      reporter?.stop();
      await Promise.all([configMaps.stop(), secrets.stop()]);
    },
  };
}

/** Watches the one Secret the policy names; switches when the name changes. */
class SecretFollower {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #runtime: AgentRuntime;
  readonly #deps: SourceDeps;
  #name: string | undefined;
  #informer: Informer<Secret> | undefined;

  constructor(client: KubeClient, namespace: string, runtime: AgentRuntime, deps: SourceDeps) {
    this.#client = client;
    this.#namespace = namespace;
    this.#runtime = runtime;
    this.#deps = deps;
  }

  follow(secretName: string | undefined): void {
    if (secretName === this.#name) return;
    this.#name = secretName;
    void this.#informer?.stop();
    this.#informer = undefined;
    if (secretName === undefined) {
      this.#runtime.clientKeys.set(undefined);
      return;
    }
    // Until the Secret is read, nobody gets in.
    this.#runtime.clientKeys.set([]);
    const informer = new Informer<Secret>({
      client: this.#client,
      kind: Kinds.Secret,
      namespace: this.#namespace,
      fieldSelector: `metadata.name=${secretName}`,
      clock: this.#deps.clock,
    });
    const take = (s: Secret) => {
      this.#runtime.clientKeys.set(keysFromSecret(s));
    };
    informer.on({
      added: take,
      updated: take,
      deleted: () => {
        this.#runtime.clientKeys.set([]);
      },
    });
    this.#informer = informer;
    void informer.start();
  }

  async stop(): Promise<void> {
    await this.#informer?.stop();
  }
}

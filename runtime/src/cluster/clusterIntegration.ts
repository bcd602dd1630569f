/**
 * The runtime's whole cluster integration, in a pod: the policy comes from ConfigMap
 * `<agent>-policy`, watched through the API (the Informer re-lists on 410, backs off, and
 * restarts silent watches); the client keys from the Secret the pod mounts (the kubelet reads
 * it: the runtime holds no access to Secrets); the pod's own annotations report what is in
 * force. Before the first policy is taken, the agent's status says which breakers its other
 * replicas hold open (openBreakersAtStart.ts). It sees the runtime only through
 * `ClusterReplica`.
 */
import { ClientKeyDirectory } from '../access/clientKeyFiles.ts';
import { POD_NAME_ENV } from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { PolicySourceOption } from '../cli/runtimeOptions.ts';
import { Informer } from '../../../platform/src/kube/informer.ts';
import { type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { HttpKubeClient } from '../../../platform/src/kube/httpKubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { PodReporter, type ReportedState } from './podReporter.ts';
import { readAgentMemory, rememberedOpen } from './openBreakersAtStart.ts';
import type { RememberedOpen } from '../guard/guardSet/rememberedOpen.ts';
import { rememberedSpend, type BudgetSeed } from '../budget/budgets.ts';
import {
  POLICY_CONFIGMAP_KEY,
  policyConfigMapName,
} from '../../../contract/src/policy/policyDocument.ts';
import type { PolicyIntake, RunningSource, SourceDeps } from '../policy/sourceDeps.ts';

/** The runtime as its cluster integration sees it. */
export interface ClusterReplica extends PolicyIntake {
  /** What the pod's annotations say now. */
  podReport(): ReportedState;
  /** Calls `listener` whenever anything `podReport()` reads may have changed. */
  onReportChange(listener: () => void): void;
  /** Breakers the agent's other replicas hold open, learned before the first policy. */
  rememberOpenBreakers(entries: readonly RememberedOpen[]): void;
  /** What the agent has spent this period, learned before the first policy. */
  rememberSpend(seeds: readonly BudgetSeed[]): void;
}

/**
 * Spend changes with every call, and no event says so: the reporter looks this often (it
 * patches only what changed). Also how much spend a process killed outright may leave
 * unreported, beside the patch itself.
 */
export const SPEND_REPORT_EVERY_MS = 1_000;
/** How long a stopping replica waits for its last report to reach its pod. */
const LAST_REPORT_TIMEOUT_MS = 2_000;

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

export async function startClusterIntegration(
  option: Extract<PolicySourceOption, { kind: 'cluster' }>,
  runtime: ClusterReplica,
  deps: SourceDeps,
  client: KubeClient = HttpKubeClient.fromKubeconfig(),
): Promise<RunningSource> {
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

  const clientKeys = new ClientKeyDirectory({
    dir: option.clientKeysDir,
    keys: runtime.clientKeys,
    clock: deps.clock,
    logger: deps.logger,
  });
  runtime.useClientKeySource(clientKeys);

  const podName = deps.env[POD_NAME_ENV];
  let reporter: PodReporter | undefined;
  let stopTicking: () => void = () => undefined;
  let stopRetrying: () => void = () => undefined;
  if (podName !== undefined && podName !== '') {
    reporter = new PodReporter({
      clock: deps.clock,
      patch: async (annotations) => {
        await client.patch(Kinds.Pod, namespace, podName, { metadata: { annotations } }, 'merge');
      },
      read: () => runtime.podReport(),
      onError: (err) => {
        deps.logger.warn({ err: String(err) }, 'pod annotation patch failed');
      },
    });
    const r = reporter;
    runtime.onReportChange(() => {
      r.poke();
    });
    const tick = (): void => {
      r.poke();
      stopTicking = deps.clock.setTimeout(tick, SPEND_REPORT_EVERY_MS);
    };
    stopTicking = deps.clock.setTimeout(tick, SPEND_REPORT_EVERY_MS);
  } else {
    deps.logger.warn('POD_NAME is not set: breaker state will not be reported on the pod');
  }

  // Before the policy, so that no call (none comes before a policy: readiness waits for one)
  // finds a breaker Closed that its siblings hold open.
  try {
    const memory = await readAgentMemory(client, namespace, agent, deps.clock);
    const open = rememberedOpen(memory);
    runtime.rememberOpenBreakers(open);
    if (open.length > 0)
      deps.logger.info(
        { breakers: open.map((b) => b.name) },
        "starting breakers open, as the agent's other replicas hold them",
      );
    rememberSpend(runtime, memory, deps);
  } catch (err) {
    deps.logger.warn(
      { err: String(err) },
      "could not read the agent's status; starting every breaker closed, and asking again for what the agent has spent",
    );
    stopRetrying = retrySpendMemory(client, namespace, agent, runtime, deps);
  }
  void configMaps.start();
  return {
    async stop() {
      stopTicking();
      stopRetrying();
      // The last spend, so that the ledger holds it once this process is gone.
      if (reporter !== undefined) {
        let cancel: () => void = () => undefined;
        const late = new Promise<void>((resolve) => {
          cancel = deps.clock.setTimeout(resolve, LAST_REPORT_TIMEOUT_MS);
        });
        await Promise.race([reporter.flush(), late]);
        cancel();
      }
      reporter?.stop();
      clientKeys.stop();
      await configMaps.stop();
    },
  };
}

function rememberSpend(
  runtime: ClusterReplica,
  memory: Awaited<ReturnType<typeof readAgentMemory>>,
  deps: SourceDeps,
): void {
  const spent = rememberedSpend(memory);
  runtime.rememberSpend(spent);
  if (spent.length > 0)
    deps.logger.info(
      { budgets: spent.map((s) => s.budget) },
      "budgets start from what the agent's status says it has spent this period",
    );
}

/** Every few seconds for a minute: spend learned late is still counted, from then on. */
const SPEND_RETRY_EVERY_MS = 5_000;
const SPEND_RETRIES = 12;

function retrySpendMemory(
  client: KubeClient,
  namespace: string,
  agent: string,
  runtime: ClusterReplica,
  deps: SourceDeps,
): () => void {
  let left = SPEND_RETRIES;
  let cancel = deps.clock.setTimeout(attempt, SPEND_RETRY_EVERY_MS);
  let stopped = false;
  function attempt(): void {
    readAgentMemory(client, namespace, agent, deps.clock).then(
      (memory) => {
        if (!stopped) rememberSpend(runtime, memory, deps);
      },
      (err: unknown) => {
        if (stopped || --left <= 0) {
          if (!stopped)
            deps.logger.warn(
              { err: String(err) },
              "gave up reading the agent's status: budgets count this replica's spend alone",
            );
          return;
        }
        cancel = deps.clock.setTimeout(attempt, SPEND_RETRY_EVERY_MS);
      },
    );
  }
  return () => {
    stopped = true;
    cancel();
  };
}

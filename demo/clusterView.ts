/**
 * What the demo knows about the cluster while traffic runs, refreshed in the background:
 * the agent's pods (where to send requests) and the breaker policy's status (what
 * `kubectl get cbp` would say). Reads go through the API, never through kubectl, so that a
 * refresh costs milliseconds.
 */
import type { KubeClient } from '../platform/src/kube/kubeClient.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import type { CircuitBreakerPolicy } from '../contract/src/api/resources.ts';
import { agentPods, type AgentPod } from './agentPods.ts';
import { BREAKER_POLICY_NAME, DEMO_NAMESPACE } from './demoLayout.ts';

export type BreakerStatus = NonNullable<CircuitBreakerPolicy['status']>;

export class ClusterView {
  readonly #client: KubeClient;
  #pods: readonly AgentPod[] = [];
  #breaker: BreakerStatus = {};
  #mostTrips = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  readonly #forwardsFile: string | undefined;

  /** forwardsFile: the port-forward reach's map (demo/portForwards.ts), when in that reach. */
  constructor(client: KubeClient, forwardsFile?: string) {
    this.#client = client;
    this.#forwardsFile = forwardsFile;
  }

  get pods(): readonly AgentPod[] {
    return this.#pods;
  }

  get breaker(): BreakerStatus {
    return this.#breaker;
  }

  /**
   * The most trips status has shown since the view started. Each replica counts its trips
   * since its process started, so a pod that restarts takes its count with it.
   */
  get mostTrips(): number {
    return this.#mostTrips;
  }

  async start(intervalMs = 500): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.#refreshing ??= this.refresh().finally(() => {
        this.#refreshing = undefined;
      });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
  }

  async refresh(): Promise<void> {
    try {
      const [pods, policy] = await Promise.all([
        agentPods(this.#client, { forwardsFile: this.#forwardsFile }),
        this.#client.get<CircuitBreakerPolicy>(
          Kinds.CircuitBreakerPolicy,
          DEMO_NAMESPACE,
          BREAKER_POLICY_NAME,
        ),
      ]);
      this.#pods = pods;
      this.#breaker = policy?.status ?? {};
      this.#mostTrips = Math.max(this.#mostTrips, this.#breaker.trips ?? 0);
    } catch {
      // Keep the last view; the next refresh tries again.
    }
  }

  /** `Open 3/3, trips 6` */
  breakerSummary(): string {
    const b = this.#breaker;
    const total = b.replicas?.total ?? 0;
    const open = b.replicas?.open ?? 0;
    return `breaker ${b.state ?? '?'} ${open}/${total} open, trips ${b.trips ?? 0}`;
  }
}

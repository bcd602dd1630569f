/**
 * The controller's watches: one informer per kind and selection, each counting its restarts
 * and logging its handlers' failures, started and stopped together.
 */
import type { Logger } from 'pino';
import { Informer } from '../../../platform/src/kube/informer.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import type { ResourceKind } from '../../../platform/src/kube/resourceKinds.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { OperatorMetrics } from './operatorMetrics.ts';

/** Which objects of a kind an informer keeps, and in what form. */
export interface Selection<T> {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly transform?: (obj: T) => T;
  readonly indexBy?: (obj: T) => string | undefined;
}

export class InformerSet {
  readonly #informers: Informer<KubeObject>[] = [];
  readonly #client: KubeClient;
  /** Undefined: every namespace. */
  readonly #namespace: string | undefined;
  readonly #clock: Clock;
  readonly #metrics: OperatorMetrics;
  readonly #log: Logger;

  constructor(
    client: KubeClient,
    namespace: string | undefined,
    clock: Clock,
    metrics: OperatorMetrics,
    log: Logger,
  ) {
    this.#client = client;
    this.#namespace = namespace;
    this.#clock = clock;
    this.#metrics = metrics;
    this.#log = log;
  }

  add<T extends KubeObject>(kind: ResourceKind, selection: Selection<T> = {}): Informer<T> {
    const inf = new Informer<T>({
      client: this.#client,
      kind,
      namespace: kind.namespaced ? this.#namespace : undefined,
      ...selection,
      clock: this.#clock,
      onRestart: (reason, error) => {
        this.#metrics.watchRestarts.inc({ kind: kind.kind, reason });
        if (reason !== 'ended')
          this.#log.warn({ kind: kind.kind, reason, err: error }, 'watch restarted');
      },
      onHandlerError: (error) => {
        this.#log.error({ kind: kind.kind, err: error }, 'event handler failed');
      },
    });
    this.#informers.push(inf as unknown as Informer<KubeObject>);
    return inf;
  }

  /** Resolves when every cache holds its first list. */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}

/**
 * Routes the pod watch to pod workers: a pod bound to this node gets a worker; a pod with
 * a deletionTimestamp is stopped and then deleted; a pod that vanished (force-deleted) is
 * stopped. Workers stay until their pod is gone, so a stale event can never run a finished
 * pod twice.
 */
import type { InformerHandlers } from '../../../platform/src/kube/informer.ts';
import { objectKey } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { errorMessage, type Logger } from './log.ts';
import { isTerminal } from './podStatus.ts';
import { podRef, type Pod } from './podTypes.ts';
import { gracePeriodMs, type PodRunner } from './podWorker.ts';

export interface PodManagerOptions {
  readonly nodeName: string;
  readonly createWorker: (pod: Pod) => PodRunner;
  readonly client: Pick<KubeClient, 'get' | 'delete'>;
  readonly log: Logger;
}

export class PodManager {
  readonly #o: PodManagerOptions;
  /** By `ns/name`: the worker of the pod object that now holds that name. */
  readonly #workers = new Map<string, PodRunner>();
  /** Workers stopping after their pod lost its name (deleted, or replaced by a new uid). */
  readonly #stopping = new Set<Promise<void>>();
  readonly #deleting = new Set<string>();
  #shuttingDown = false;

  constructor(options: PodManagerOptions) {
    this.#o = options;
  }

  get handlers(): InformerHandlers<Pod> {
    return {
      added: (pod) => {
        this.sync(pod);
      },
      updated: (pod) => {
        this.sync(pod);
      },
      deleted: (pod) => {
        this.gone(pod);
      },
    };
  }

  /** A pod was added or changed. */
  sync(pod: Pod): void {
    if (this.#shuttingDown) return;
    const key = objectKey(pod);
    const uid = pod.metadata.uid ?? '';
    let worker = this.#workers.get(key);
    if (worker !== undefined && worker.uid !== uid) {
      // The name now belongs to a new pod: the old one was deleted while we were not looking.
      this.#retire(key, worker, { graceMs: 0, deleteObject: false });
      worker = undefined;
    }
    if (pod.metadata.deletionTimestamp !== undefined) {
      if (worker !== undefined) {
        this.#retire(key, worker, { graceMs: gracePeriodMs(pod), deleteObject: true });
      } else {
        void this.#deleteUnrun(pod);
      }
      return;
    }
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    if (pod.spec.nodeName !== this.#o.nodeName || isTerminal(pod.status?.phase)) return;
    worker = this.#o.createWorker(pod);
    this.#workers.set(key, worker);
    worker.start();
  }

  /** A pod object is gone (force-deleted, or deleted after we stopped it). */
  gone(pod: Pod): void {
    const key = objectKey(pod);
    const worker = this.#workers.get(key);
    if (worker === undefined || worker.uid !== pod.metadata.uid) return;
    this.#retire(key, worker, { graceMs: gracePeriodMs(pod), deleteObject: false });
  }

  /**
   * Stops every pod's processes (SIGTERM, the pod's grace period but at most `graceCapMs`,
   * SIGKILL); leaves the pod objects alone for the next local node to pick up.
   */
  async shutdown(graceCapMs: number): Promise<void> {
    this.#shuttingDown = true;
    for (const [key, worker] of [...this.#workers]) {
      const graceMs = Math.min(graceCapMs, worker.gracePeriodMs);
      this.#retire(key, worker, { graceMs, deleteObject: false });
    }
    await Promise.all([...this.#stopping]);
  }

  get size(): number {
    return this.#workers.size;
  }

  #retire(
    key: string,
    worker: PodRunner,
    options: { graceMs: number; deleteObject: boolean },
  ): void {
    const stopping = worker.terminate(options).catch((err: unknown) => {
      this.#o.log.error('stopping a pod failed', { key, error: errorMessage(err) });
    });
    this.#stopping.add(stopping);
    void stopping.then(() => {
      this.#stopping.delete(stopping);
      if (this.#workers.get(key) === worker) this.#workers.delete(key);
    });
  }

  /** A deleted pod with nothing running here (never started, finished, or from before a restart). */
  async #deleteUnrun(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.#deleting.has(uid) || pod.spec.nodeName !== this.#o.nodeName) return;
    this.#deleting.add(uid);
    try {
      const { namespace, name } = pod.metadata;
      const current = await this.#o.client.get<Pod>(Kinds.Pod, namespace, name ?? '');
      if (current?.metadata.uid === uid) {
        await this.#o.client.delete(Kinds.Pod, namespace, name ?? '', 0);
        this.#o.log.info('deleted a pod with nothing running', { pod: podRef(pod) });
      }
    } catch (err) {
      this.#o.log.warn('cannot delete pod object', { pod: podRef(pod), error: errorMessage(err) });
    } finally {
      this.#deleting.delete(uid);
    }
  }
}

/**
 * A watch-fed cache with waits that are judged on every event, so a bench learns the moment
 * a condition became true (to the watch's latency), not the next tick of a poll.
 */
import { Informer } from '../../platform/src/kube/informer.ts';
import type { KubeClient } from '../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import type { ResourceKind } from '../../platform/src/kube/resourceKinds.ts';

interface Waiter<T> {
  readonly check: (items: readonly T[]) => boolean;
  readonly resolve: (at: number) => void;
}

export class WatchedCache<T extends KubeObject> {
  readonly #informer: Informer<T>;
  readonly #waiters = new Set<Waiter<T>>();

  constructor(
    client: KubeClient,
    kind: ResourceKind,
    selection: { namespace: string; labelSelector?: string; fieldSelector?: string },
  ) {
    this.#informer = new Informer<T>({ client, kind, ...selection });
    const judge = (): void => {
      this.#judge();
    };
    this.#informer.on({ added: judge, updated: judge, deleted: judge });
  }

  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  items(): T[] {
    return this.#informer.list();
  }

  /**
   * Resolves with Date.now() of the event after which `check` first held (at once if it holds
   * now); rejects after `timeoutMs` naming `what`.
   */
  when(check: (items: readonly T[]) => boolean, timeoutMs: number, what: string): Promise<number> {
    if (check(this.items())) return Promise.resolve(Date.now());
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        check,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #judge(): void {
    if (this.#waiters.size === 0) return;
    const at = Date.now();
    const items = this.items();
    for (const waiter of [...this.#waiters]) {
      if (!waiter.check(items)) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(at);
    }
  }
}

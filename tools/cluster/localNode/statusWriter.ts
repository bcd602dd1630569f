/**
 * Writes one pod's status through the pods/status subresource with server-side apply
 * (field manager `local-node`, so the scheduler's PodScheduled condition stays the
 * scheduler's). Requests coalesce: however many changes arrive while a write is in flight,
 * one more write follows with the latest status, and nothing is sent when it did not change.
 */
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import { isNotFound, type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { errorMessage, type Logger } from './log.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import type { PodStatus } from './podTypes.ts';

export const fieldManager = 'local-node';

export interface PodStatusWriterOptions {
  readonly client: Pick<KubeClient, 'applyStatus'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly namespace: string;
  readonly name: string;
  /** The status to write now, given the one written last (for lastTransitionTime). */
  readonly build: (previous: PodStatus | undefined, now: number) => PodStatus;
  /** The status the pod had when the local node took it on. */
  readonly initial: PodStatus | undefined;
  /** The pod no longer exists. */
  readonly onGone?: () => void;
}

export class PodStatusWriter {
  readonly #o: PodStatusWriterOptions;
  #written: PodStatus | undefined;
  #writtenJson: string | undefined;
  #dirty = false;
  #writing: Promise<void> | undefined;
  #timer: Cancel | undefined;
  #failures = 0;
  #stopped = false;

  constructor(options: PodStatusWriterOptions) {
    this.#o = options;
    this.#written = options.initial;
  }

  /** Asks for a write soon. */
  request(): void {
    if (this.#stopped) return;
    this.#dirty = true;
    if (this.#timer === undefined && this.#writing === undefined) this.#schedule(0);
  }

  /**
   * Writes now if anything is pending and waits for it. After a failed write it leaves the
   * retry to its back-off instead of hammering an API server that is not answering.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.#writing !== undefined) {
        await this.#writing;
        continue;
      }
      if (this.#isStopped() || !this.#dirty || this.#failures > 0) return;
      this.#timer?.();
      this.#timer = undefined;
      await this.#write();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.();
    this.#timer = undefined;
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isStopped(): boolean {
    return this.#stopped;
  }

  #schedule(ms: number): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, ms);
  }

  #write(): Promise<void> {
    const writing = this.#writeOnce().finally(() => {
      this.#writing = undefined;
      // Changes that came during the write go out right after it (a failed write has its retry timer).
      if (this.#dirty && this.#timer === undefined && !this.#isStopped()) void this.#write();
    });
    this.#writing = writing;
    return writing;
  }

  async #writeOnce(): Promise<void> {
    if (this.#stopped || !this.#dirty) return;
    this.#dirty = false;
    const status = this.#o.build(this.#written, this.#o.clock.now());
    const json = JSON.stringify(status);
    if (json === this.#writtenJson) return;
    try {
      await this.#o.client.applyStatus<KubeObject & { status: PodStatus }>(
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: this.#o.name, namespace: this.#o.namespace },
          status,
        },
        { fieldManager, force: true },
      );
      this.#written = status;
      this.#writtenJson = json;
      this.#failures = 0;
    } catch (err) {
      if (isNotFound(err)) {
        this.stop();
        this.#o.onGone?.();
        return;
      }
      this.#failures++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(this.#failures, 10));
      this.#o.log.warn('pod status write failed; retrying', {
        error: errorMessage(err),
        retryInMs: delay,
      });
      this.#dirty = true;
      if (!this.#isStopped()) this.#schedule(delay);
    }
  }
}

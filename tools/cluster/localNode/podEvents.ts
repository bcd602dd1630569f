/**
 * Events about pods, as kubelet posts them (Started, Killing, Unhealthy, BackOff, Failed),
 * so that `kubectl describe pod` and `kubectl get events` tell what the local node did.
 * Fire-and-forget: an event that cannot be written is logged and dropped.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import { isKubeApiError, type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { errorMessage, type Logger } from './log.ts';
import { wireTime, type Pod } from './podTypes.ts';

export interface ContainerEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export type ContainerEventSink = (event: ContainerEvent) => void;

export interface PodEventRecorderOptions {
  readonly client: Pick<KubeClient, 'create'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeName: string;
}

export class PodEventRecorder {
  readonly #o: PodEventRecorderOptions;
  #seq = 0;

  constructor(options: PodEventRecorderOptions) {
    this.#o = options;
  }

  /** A sink for one container's events. */
  forContainer(
    pod: Pod,
    container: string,
    kind: 'containers' | 'initContainers',
  ): ContainerEventSink {
    return (event) => {
      this.record(pod, event, `spec.${kind}{${container}}`);
    };
  }

  record(pod: Pod, event: ContainerEvent, fieldPath?: string): void {
    const now = this.#o.clock.now();
    const name = pod.metadata.name ?? '';
    const body: KubeObject & Record<string, unknown> = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${name}.${now.toString(16)}${(this.#seq++).toString(16)}`,
        namespace: pod.metadata.namespace ?? '',
      },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name,
        namespace: pod.metadata.namespace ?? '',
        uid: pod.metadata.uid ?? '',
        ...(fieldPath === undefined ? {} : { fieldPath }),
      },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: 'kubelet', host: this.#o.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.#o.nodeName,
      firstTimestamp: wireTime(now),
      lastTimestamp: wireTime(now),
      count: 1,
    };
    this.#o.client.create(Kinds.Event, body).catch((err: unknown) => {
      // A namespace being deleted refuses new events (403); nobody will read them anyway.
      if (isKubeApiError(err) && (err.status === 403 || err.status === 404)) return;
      this.#o.log.warn('cannot record event', { reason: event.reason, error: errorMessage(err) });
    });
  }
}

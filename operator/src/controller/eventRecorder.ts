/**
 * Kubernetes Events about Breakwater objects, as `kubectl describe` and `kubectl events`
 * show them. Best effort: an Event that cannot be written is logged, never a failed
 * reconcile, since the status it describes has already been written.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../contract/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../contract/src/kube/kubeObject.ts';
import { Kinds } from '../../../contract/src/kube/resourceKinds.ts';
import type { Clock } from '../../../contract/src/time/clock.ts';

export const EVENT_SOURCE = 'breakwater-operator';

export interface EventRecorder {
  record(
    obj: KubeObject,
    event: {
      readonly type: 'Normal' | 'Warning';
      readonly reason: string;
      readonly message: string;
    },
  ): Promise<void>;
}

interface CoreEvent extends KubeObject {
  involvedObject: Record<string, string | undefined>;
  reason: string;
  message: string;
  type: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
}

export function eventRecorder(client: KubeClient, clock: Clock, log: Logger): EventRecorder {
  return {
    async record(obj, { type, reason, message }) {
      const name = obj.metadata?.name ?? '';
      const namespace = obj.metadata?.namespace ?? 'default';
      const at = new Date(clock.now()).toISOString();
      const event: CoreEvent = {
        apiVersion: 'v1',
        kind: 'Event',
        // Unique like kubelet's `<object>.<hex>`: each Event is a new one, never an update.
        metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name,
          namespace,
          uid: obj.metadata?.uid,
        },
        reason,
        message,
        type,
        count: 1,
        firstTimestamp: at,
        lastTimestamp: at,
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        reportingInstance: EVENT_SOURCE,
      };
      try {
        await client.create(Kinds.Event, event);
      } catch (err) {
        log.warn({ kind: obj.kind, name, namespace, reason, err }, 'could not record an Event');
      }
    },
  };
}

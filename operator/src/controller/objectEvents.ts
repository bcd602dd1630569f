/**
 * Events the operator records about the objects it reconciles (`kubectl describe` and
 * `kubectl breakwater explain` show them). Best effort: an Event that cannot be written is
 * logged, never a reason to fail or repeat a reconcile.
 */
import { randomBytes } from 'node:crypto';
import { isKubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { OperatorContext } from './operatorContext.ts';

export interface ObjectEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export const EVENT_SOURCE = 'breakwater-operator';

export async function recordEvent(
  ctx: Pick<OperatorContext, 'client' | 'clock' | 'log'>,
  regarding: Readonly<KubeObject>,
  event: ObjectEvent,
): Promise<void> {
  const meta = regarding.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? 'default';
  // Seconds precision, as the core/v1 Event API stores these times.
  const time = new Date(ctx.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const body: KubeObject & Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
    involvedObject: {
      apiVersion: regarding.apiVersion,
      kind: regarding.kind,
      name,
      namespace,
      uid: meta.uid,
    },
    type: event.type,
    reason: event.reason,
    message: event.message,
    source: { component: EVENT_SOURCE },
    reportingComponent: EVENT_SOURCE,
    reportingInstance: EVENT_SOURCE,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
  try {
    await ctx.client.create(Kinds.Event, body);
  } catch (err) {
    // A namespace being deleted refuses new events; nobody would read them anyway.
    if (isKubeApiError(err) && (err.status === 403 || err.status === 404)) return;
    ctx.log.warn(
      {
        reason: event.reason,
        object: `${regarding.kind ?? ''} ${namespace}/${name}`,
        err: String(err),
      },
      'cannot record event',
    );
  }
}

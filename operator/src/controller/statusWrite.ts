/**
 * The one way the operator writes status: server-side apply with its field manager, only when
 * the computed status differs from the stored one. With `precondition`, the write carries the
 * cached object's resourceVersion, and an API server that holds a newer version refuses it:
 * for status folded from the stored status (the trip ledger) or compared with it (which Event
 * to record), a write from a stale copy would count twice or lose what the newer one holds.
 */
import { isConflict } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { Outcome } from '../machinery/workQueue.ts';
import { FIELD_MANAGER, type OperatorContext } from './operatorContext.ts';

export type StatusWrite = 'unchanged' | 'written' | 'stale';

/** A refused stale write is tried again once the cache has caught up, usually within this. */
export const STALE_STATUS_RETRY: Outcome = { requeueAfterMs: 200 };

export async function writeStatusIfChanged(
  ctx: OperatorContext,
  obj: KubeObject & { status?: unknown },
  status: object,
  options: { readonly precondition?: boolean } = {},
): Promise<StatusWrite> {
  if (canonicalJson(obj.status ?? {}) === canonicalJson(status)) return 'unchanged';
  try {
    await ctx.client.applyStatus(
      {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: {
          name: obj.metadata?.name,
          namespace: obj.metadata?.namespace,
          ...(options.precondition === true
            ? { resourceVersion: obj.metadata?.resourceVersion }
            : {}),
        },
        status,
      } as KubeObject,
      { fieldManager: FIELD_MANAGER, force: true },
    );
  } catch (err) {
    if (options.precondition === true && isConflict(err)) return 'stale';
    throw err;
  }
  ctx.metrics.statusWrites.inc({ kind: obj.kind ?? 'unknown' });
  return 'written';
}

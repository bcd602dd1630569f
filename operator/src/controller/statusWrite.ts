/**
 * The one status write of a reconcile: server-side apply of the computed status, skipped when
 * it equals what is stored (STYLE §6), counted by kind.
 */
import type { KubeObject } from '../../../contract/src/kube/kubeObject.ts';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import { FIELD_MANAGER, type OperatorContext } from './operatorContext.ts';

export async function writeStatusIfChanged(
  ctx: OperatorContext,
  obj: KubeObject & { readonly status?: object | undefined },
  status: object,
): Promise<void> {
  if (canonicalJson(obj.status ?? {}) === canonicalJson(status)) return;
  await ctx.client.applyStatus(
    {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata?.name, namespace: obj.metadata?.namespace },
      status,
    } as KubeObject,
    { fieldManager: FIELD_MANAGER, force: true },
  );
  ctx.metrics.statusWrites.inc({ kind: obj.kind ?? 'unknown' });
}

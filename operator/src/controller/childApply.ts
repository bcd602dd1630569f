/**
 * Puts an agent's children in place: only those whose built form changed since the operator
 * last applied them, the independent ones together, and the pods' prerequisites first. What
 * each apply returned is kept, so the watch's echo of the operator's own write is not taken
 * for a hand edit (which would forget the child and apply it again).
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { ChildObjects, ChildReference } from '../builders/index.ts';
import { appliedDigest } from './cacheViews.ts';
import {
  childKindKey,
  FIELD_MANAGER,
  objectKindKey,
  type AppliedChildren,
  type OperatorContext,
} from './operatorContext.ts';

/** Kinds a pod of the agent needs before it starts: applied in a wave before the others. */
const POD_PREREQUISITES: ReadonlySet<string> = new Set([
  'ConfigMap',
  'ServiceAccount',
  'Role',
  'RoleBinding',
]);

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64');

/** What the watch shows of the operator's own write: a Deployment's generation, else the digest. */
export function echoOf(obj: KubeObject): string {
  return obj.kind === Kinds.Deployment.kind
    ? `generation ${String(obj.metadata?.generation)}`
    : appliedDigest(obj);
}

/** Applies what changed of `children` and deletes what `children.delete` names and exists. */
export async function applyChildren(
  ctx: OperatorContext,
  key: string,
  namespace: string,
  children: ChildObjects,
): Promise<void> {
  const built = new Map(children.apply.map((c) => [objectKindKey(c), sha256(canonicalJson(c))]));
  const hash = sha256(canonicalJson([[...built], children.delete]));
  const previous = ctx.appliedChildren.get(key);
  if (previous?.hash === hash) return;
  const changed = children.apply.filter((c) => {
    const kindKey = objectKindKey(c);
    return previous?.children.get(kindKey) !== built.get(kindKey);
  });
  // Recorded before applying: a hand edit noticed while these applies run forgets the child
  // again, and the re-run this key is queued for must then apply it, not skip.
  const entry: AppliedChildren = { hash, children: built, echoes: new Map(previous?.echoes) };
  ctx.appliedChildren.set(key, entry);
  try {
    const [prerequisites, dependents] = partition(changed, (c) =>
      POD_PREREQUISITES.has(c.kind ?? ''),
    );
    for (const wave of [prerequisites, dependents]) {
      await settleAll(
        wave.map(async (child) => {
          const stored = await ctx.client.apply(child, {
            fieldManager: FIELD_MANAGER,
            force: true,
          });
          entry.echoes.set(objectKindKey(child), echoOf(stored));
          ctx.metrics.applies.inc({ kind: child.kind ?? 'unknown' });
        }),
      );
    }
    await settleAll(children.delete.map((child) => deleteChild(ctx, namespace, child)));
  } catch (err) {
    ctx.appliedChildren.delete(key);
    throw err;
  }
}

/**
 * Forgets one child of the agent `key` (edited or deleted by someone else): the next
 * reconcile applies it again, and only it.
 */
export function forgetChild(ctx: OperatorContext, key: string, kindKey: string): void {
  const entry = ctx.appliedChildren.get(key);
  if (entry === undefined) return;
  const children = new Map(entry.children);
  const echoes = new Map(entry.echoes);
  children.delete(kindKey);
  echoes.delete(kindKey);
  ctx.appliedChildren.set(key, { hash: '', children, echoes });
}

/** Whether `echo` is what the operator's own last apply of that child returned. */
export function isOwnEcho(
  ctx: OperatorContext,
  key: string,
  kindKey: string,
  echo: string,
): boolean {
  return ctx.appliedChildren.get(key)?.echoes.get(kindKey) === echo;
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

/** Waits for every request to end, then fails with the first failure: none is left in flight. */
async function settleAll(requests: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(requests)).find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/**
 * Deletes an optional child the spec no longer asks for. One the drift cache has not seen is
 * not there to delete: no request. If the cache merely lags, its arrival is drift (it is not
 * among the children applied) and queues the agent again.
 */
async function deleteChild(
  ctx: OperatorContext,
  namespace: string,
  child: ChildReference,
): Promise<void> {
  const cached = ctx.caches.owned.get(childKindKey(child));
  if (cached !== undefined && cached.get(`${namespace}/${child.name}`) === undefined) return;
  const kind = Object.values(Kinds).find(
    (k) => k.kind === child.kind && k.apiVersion === child.apiVersion,
  );
  if (kind !== undefined) await ctx.client.delete(kind, namespace, child.name);
}

/**
 * The component checks `/health` shows: a policy in force (or why none is), which backends
 * have their provider key, and whether the process is draining. Readiness reads only the
 * first and the last (probeRoutes.ts); a missing key is shown, never a reason to fail a probe.
 */
import type { PolicyStore } from '../policy/policyStore.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';

export type HealthChecks = Record<string, { ok: boolean; detail?: string }>;

export function runtimeHealth(
  store: PolicyStore,
  active: ActivePolicy | undefined,
  backends: readonly { readonly name: string; readonly hasKey: boolean }[],
  lifecycle: Lifecycle,
): HealthChecks {
  const rejection = store.lastRejection;
  return {
    policy:
      active === undefined
        ? { ok: false, detail: rejection?.error ?? 'waiting for a policy' }
        : { ok: true, detail: active.hash },
    providerKeys: {
      ok: true,
      detail: backends.map((b) => `${b.name}:${b.hasKey ? 'set' : 'missing'}`).join(','),
    },
    draining: { ok: !lifecycle.draining },
  };
}

/**
 * The runtime's policy store with its offers accounted for: each one counted in
 * `breakwater_policy_reloads_total` by result and source, each refusal logged with its reason.
 * It stands apart from agentRuntime.ts, which assembles the runtime, because this is what an
 * operator reads when a reload did not take; the store itself (policyStore.ts) neither counts
 * nor logs.
 */
import type { Counter } from 'prom-client';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { PolicySourceOption } from '../cli/runtimeOptions.ts';
import type { Logger } from '../telemetry/logger.ts';
import { loadPolicyModules } from './policyModules.ts';
import { OFFER_RESULTS, PolicyStore } from './policyStore.ts';

/** The `source` label of a policy source's offers: its name up to the first ':'. */
const RELOAD_SOURCE_LABEL: Readonly<Record<PolicySourceOption['kind'], string>> = {
  file: 'file',
  manifests: 'manifests',
  cluster: 'configmap',
};

/** A PolicyStore whose offers from a source of `kind` count in `reloads` and log to `logger`. */
export function countedPolicyStore(
  clock: Clock,
  kind: PolicySourceOption['kind'],
  reloads: Counter<'result' | 'source'>,
  logger: Logger,
): PolicyStore {
  // Every result exists from the start, so increase() sees the first rejection.
  const label = RELOAD_SOURCE_LABEL[kind];
  for (const result of OFFER_RESULTS) reloads.inc({ result, source: label }, 0);
  const store: PolicyStore = new PolicyStore(clock, {
    onOffer: (result, source, detail) => {
      reloads.inc({ result, source: source.split(':')[0] ?? source });
      if (result === 'rejected')
        logger.error(
          { source, error: detail },
          // Refused at start there is no good one yet: calls get 503 and /health/ready says
          // why until a valid policy is offered.
          store.current === undefined
            ? 'policy refused; no policy in force until a valid one is offered'
            : 'policy refused; keeping the last good one',
        );
    },
    loadModules: loadPolicyModules,
  });
  return store;
}

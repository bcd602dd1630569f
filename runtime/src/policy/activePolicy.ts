/**
 * The policy in force and the guard built from it, replaced as a whole on reload: what a
 * route, a run's executor and the probes read, each through `active()`.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';
import type { MessagesPlan } from '../server/messagesPlan.ts';

export interface ActivePolicy {
  readonly doc: PolicyDocument;
  readonly hash: string;
  readonly guard: RuntimeGuard;
  /** How `/v1/messages` serves calls under this policy: decided once, when it is applied. */
  readonly messages: MessagesPlan;
}

/**
 * The faults in force. Several may be active at once and are consulted in the order they
 * were posted: each one that fires (by its `rate`, on the seeded generator) adds its
 * latency and counts toward its `count`; the first that fires with an action (error, hang,
 * drop) decides the request and the rest are not consulted. A fault retires once it has
 * fired `count` times. A fault for one `model` is passed over, without a roll, for requests
 * for any other model (or whose model is unknown); one for a `provider`, for requests in
 * another provider's wire format.
 */
import type { FaultAction, FaultSpec } from './faultSpec.ts';
import type { Provider } from './provider.ts';
import type { Random } from '../../platform/src/random/random.ts';

export interface FaultDecision {
  readonly action: FaultAction;
  /** Added before the answer (or before the hang, drop or error). */
  readonly latencyMs: number;
}

/** An active fault as `GET /_sim/faults` shows it. */
export interface FaultView extends FaultSpec {
  readonly id: number;
  /** Times it has fired so far. */
  readonly fired: number;
}

interface ActiveFault {
  readonly id: number;
  readonly spec: FaultSpec;
  fired: number;
}

const NO_FAULT: FaultDecision = Object.freeze({
  action: Object.freeze({ kind: 'none' }),
  latencyMs: 0,
});

export class FaultInjector {
  readonly #random: Random;
  #faults: ActiveFault[] = [];
  #nextId = 1;

  constructor(random: Random) {
    this.#random = random;
  }

  add(spec: FaultSpec): FaultView {
    const fault: ActiveFault = { id: this.#nextId++, spec, fired: 0 };
    this.#faults.push(fault);
    return view(fault);
  }

  /** Removes every fault; returns how many there were. */
  clear(): number {
    const cleared = this.#faults.length;
    this.#faults = [];
    return cleared;
  }

  list(): FaultView[] {
    return this.#faults.map(view);
  }

  /** Whether some fault is for one model only: then `decide` needs the request's model. */
  get needsModel(): boolean {
    return this.#faults.some((f) => f.spec.model !== undefined);
  }

  /** Rolls the active faults for one request for `model`, in `provider`'s wire format. */
  decide(model?: string, provider: Provider = 'anthropic'): FaultDecision {
    if (this.#faults.length === 0) return NO_FAULT;
    let latencyMs = 0;
    let action: FaultAction = NO_FAULT.action;
    for (const fault of this.#faults) {
      const { spec } = fault;
      if (spec.model !== undefined && spec.model !== model) continue;
      if (spec.provider !== undefined && spec.provider !== provider) continue;
      // A certain fault does not draw, so adding one does not shift the rolls of the others.
      if (spec.rate < 1 && !(this.#random() < spec.rate)) continue;
      fault.fired += 1;
      latencyMs += spec.latencyMs;
      if (spec.action.kind !== 'none') {
        action = spec.action;
        break;
      }
    }
    this.#faults = this.#faults.filter((f) => f.spec.count === undefined || f.fired < f.spec.count);
    return { action, latencyMs };
  }
}

function view(fault: ActiveFault): FaultView {
  return { id: fault.id, ...fault.spec, fired: fault.fired };
}

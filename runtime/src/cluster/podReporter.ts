/**
 * Patches this pod's own annotations with the applied policy hash and the compact breaker
 * states, so the operator can aggregate them into CR status. Only on change, and coalesced:
 * a flapping breaker produces at most one patch per interval, carrying the latest state. A new
 * policy hash never waits for that interval: it goes out at once, or as soon as the patch in
 * flight returns, since the operator and `kubectl` learn a policy edit is in force from it.
 */
import {
  encodeMcpReport,
  MCP_ANNOTATION,
  type McpReport,
} from '../../../contract/src/reporting/mcpReport.ts';
import { POLICY_HASH_ANNOTATION } from '../../../contract/src/policy/policyDocument.ts';
import {
  BREAKERS_ANNOTATION,
  encodeBreakerReport,
  type BreakerReport,
} from '../../../contract/src/reporting/breakerReport.ts';
import {
  HEADROOM_ANNOTATION,
  encodeHeadroomReport,
  type HeadroomReport,
} from '../../../contract/src/reporting/headroomReport.ts';
import {
  RUNTIME_ANNOTATION,
  encodeRuntimeReport,
  type RuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import {
  RATE_LIMIT_STORE_ANNOTATION,
  encodeStoreReport,
  type StoreReport,
} from '../../../contract/src/reporting/storeReport.ts';
import {
  BUDGETS_ANNOTATION,
  encodeBudgetReport,
  type BudgetReport,
} from '../../../contract/src/reporting/budgetReport.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  encodeDurableReport,
  type DurableReport,
} from '../../../contract/src/reporting/durableReport.ts';
import type { Clock, Cancel } from '../../../platform/src/time/clock.ts';

export interface PodPatcher {
  (annotations: Record<string, string>): Promise<void>;
}

export interface ReportedState {
  readonly policyHash: string | undefined;
  readonly breakers: BreakerReport;
  /** The rate-limit store's state; absent when the policy names no store. */
  readonly store?: StoreReport | undefined;
  /** The provider's quota left per backend; no annotation until a provider reported one. */
  readonly headroom?: HeadroomReport;
  /** When the process started and the override it applies (`breakwater.dev/runtime`). */
  readonly runtime?: RuntimeReport;
  /** The MCP servers and the last loop; no annotation while the agent has neither. */
  readonly mcp?: McpReport;
  /** What this process has spent of each budget; absent without budgets. */
  readonly budgets?: BudgetReport | undefined;
  /** Durable runs and the journal's store; absent without durability. */
  readonly durable?: DurableReport | undefined;
}

function hasMcp(report: McpReport | undefined): report is McpReport {
  return (
    report !== undefined &&
    (Object.keys(report.servers).length > 0 || report.lastLoop !== undefined)
  );
}

export class PodReporter {
  readonly #patch: PodPatcher;
  readonly #clock: Clock;
  readonly #read: () => ReportedState;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  #sent: Record<string, string> = {};
  #timer: Cancel | undefined;
  #busy = false;
  #again = false;
  #failures = 0;

  constructor(options: {
    patch: PodPatcher;
    clock: Clock;
    read: () => ReportedState;
    /** @default 1000 */
    intervalMs?: number;
    onError?: (err: unknown) => void;
  }) {
    this.#patch = options.patch;
    this.#clock = options.clock;
    this.#read = options.read;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Something may have changed: schedule a report (coalesced with any already pending). */
  poke(): void {
    // After the patch in flight, whose end schedules the next (flush).
    if (this.#busy) {
      this.#again = true;
      return;
    }
    if (this.#timer !== undefined) {
      // A wait for the interval (or a failure's backoff) holds breaker flaps, not a new policy.
      if (this.#failures > 0 || !this.#policyChanged()) return;
      this.#timer();
    }
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, delayMs);
  }

  /** Whether the policy in force is not the one the pod says (nor the one on its way there). */
  #policyChanged(): boolean {
    return (this.#read().policyHash ?? '') !== this.#sent[POLICY_HASH_ANNOTATION];
  }

  /** The annotations that would be written now. */
  annotations(): Record<string, string> {
    const state = this.#read();
    const headroom = state.headroom ?? {};
    return {
      [POLICY_HASH_ANNOTATION]: state.policyHash ?? '',
      [BREAKERS_ANNOTATION]: encodeBreakerReport(state.breakers),
      // Written once a store was reported, and emptied when the policy drops it.
      ...(state.store !== undefined || RATE_LIMIT_STORE_ANNOTATION in this.#sent
        ? { [RATE_LIMIT_STORE_ANNOTATION]: encodeStoreReport(state.store) }
        : {}),
      ...(Object.keys(headroom).length === 0
        ? {}
        : { [HEADROOM_ANNOTATION]: encodeHeadroomReport(headroom) }),
      ...(state.runtime === undefined
        ? {}
        : { [RUNTIME_ANNOTATION]: encodeRuntimeReport(state.runtime) }),
      // Written once there was something to say, and emptied when the policy drops it.
      ...(hasMcp(state.mcp) || MCP_ANNOTATION in this.#sent
        ? { [MCP_ANNOTATION]: encodeMcpReport(state.mcp ?? { servers: {} }) }
        : {}),
      // Always written by a process that reports budgets, and emptied without them: a new
      // process in the same pod must replace its predecessor's report in its first patch,
      // beside its own start time, or the operator would take the old spend for the new.
      ...(state.budgets !== undefined || state.runtime !== undefined
        ? {
            [BUDGETS_ANNOTATION]:
              state.budgets === undefined ? '' : encodeBudgetReport(state.budgets),
          }
        : {}),
      // As the budgets: a new process replaces its predecessor's counts in its first patch,
      // beside its start time, or the operator would count the old process's runs twice.
      ...(state.durable !== undefined ||
      state.runtime !== undefined ||
      DURABLE_RUNS_ANNOTATION in this.#sent
        ? { [DURABLE_RUNS_ANNOTATION]: encodeDurableReport(state.durable) }
        : {}),
    };
  }

  async flush(): Promise<void> {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    const next = this.annotations();
    const changed: Record<string, string> = {};
    for (const [k, v] of Object.entries(next)) if (this.#sent[k] !== v) changed[k] = v;
    if (Object.keys(changed).length === 0) return;
    this.#busy = true;
    try {
      await this.#patch(changed);
      this.#sent = { ...this.#sent, ...changed };
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      this.#onError(err);
      this.#again = true;
    } finally {
      this.#busy = false;
    }
    if (this.#again) {
      this.#again = false;
      const delay =
        this.#failures === 0 && this.#policyChanged()
          ? 0
          : Math.min(30_000, this.#intervalMs * 2 ** Math.min(this.#failures, 5));
      if (this.#timer === undefined) this.#schedule(delay);
    }
  }

  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
  }
}

/**
 * The runs the runtime owns: the bundled agent's runs started with `POST /v1/agent/runs` or
 * named by `Idempotency-Key` on `/v1/agent/invoke`. Each has a record beside its journal
 * (agentRunStore.ts) and, while a replica executes it, a lease (leaseKeeper.ts). A replica
 * that dies leaves its leases to lapse; another takes the runs over and executes them again
 * from the start, which replays every completed step from the journal and goes live where it
 * ends. A replica that loses a lease stops executing that run.
 */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import { messageOf } from '../rateLimitStore/storeConnection.ts';
import { isUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import type { Logger } from '../telemetry/logger.ts';
import {
  AgentRunStore,
  type AgentRunError,
  type AgentRunRecord,
  type AgentRunRequest,
} from './agentRunStore.ts';
import { isSuperseded } from './runRefusedError.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { DurableRuns, RunRef } from './durableRuns.ts';
import { LeaseKeeper, type LeaseStore } from './leaseKeeper.ts';
import { RunLeases } from './runLeases.ts';

/**
 * How long a lease lasts unrenewed: how soon another replica takes over the runs of one that
 * died. `BREAKWATER_RUN_LEASE_MS` sets it (1 s to 10 min); renewals go three times a lease.
 */
export const RUN_LEASE_ENV = 'BREAKWATER_RUN_LEASE_MS';
export const DEFAULT_RUN_LEASE_MS = 15_000;

/** The lease length `env` asks for; an unusable value is refused, naming the variable. */
export function runLeaseMs(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[RUN_LEASE_ENV];
  if (raw === undefined || raw === '') return DEFAULT_RUN_LEASE_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1_000 || ms > 600_000)
    throw new Error(
      `${RUN_LEASE_ENV} must be a whole number of milliseconds from 1000 to 600000, got ${JSON.stringify(raw)}`,
    );
  return ms;
}

/** How a run ended: `/v1/agent/invoke`'s answer, or its error. */
export type RunOutcome = { readonly result: unknown } | { readonly error: AgentRunError };

/** Executes the agent loop of a run through its journal (ownedRunExecution.ts). */
export type RunExecutor = (
  run: RunRef,
  record: AgentRunRecord,
  signal: AbortSignal,
) => Promise<RunOutcome>;

export type Started =
  /** `outcome` resolves undefined when this replica gave the run up (another finishes it). */
  | { readonly started: true; readonly outcome: Promise<RunOutcome | undefined> }
  | { readonly started: false; readonly reason: 'exists' | 'unavailable' }
  /** `acknowledge: Replicas`: the store took the run's record and lease, no replica confirmed them. */
  | { readonly started: false; readonly reason: 'unacknowledged'; readonly message: string };

export interface OwnedRunsDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: DurableMetrics;
  readonly audit: AuditLog;
  readonly durable: DurableRuns;
  /** This replica's name in the leases it holds. */
  readonly replica: string;
  readonly leaseMs: number;
}

/** A run as a reader sees it. */
export interface RunView {
  readonly record: AgentRunRecord;
  /** The steps its journal holds so far. */
  readonly steps: number;
}

export class OwnedRuns {
  readonly #deps: OwnedRunsDeps;
  readonly #keeper: LeaseKeeper;
  /** The runs executing here, each stopped by its controller. */
  readonly #local = new Map<string, AbortController>();
  #executor: RunExecutor | undefined;
  #idle: (() => void)[] = [];

  constructor(deps: OwnedRunsDeps) {
    this.#deps = deps;
    this.#keeper = new LeaseKeeper({
      clock: deps.clock,
      leaseMs: deps.leaseMs,
      store: new CurrentLeases(deps.durable, deps.replica, deps.leaseMs),
      events: {
        lost: (run, why) => {
          this.#local.get(run)?.abort(new Error(`lease ${why}`));
          deps.logger.warn(
            { run, why },
            'lost the lease on a run: another replica finishes it from its journal',
          );
        },
        tookOver: (run, from) => {
          void this.#resume(run, from);
        },
        failed: (err) => {
          // A renewal or take-over the store took and no replica confirmed: not held (0062).
          if (isUnacknowledged(err)) deps.metrics.unacknowledged.inc({ write: 'lease' });
          deps.logger.debug({ error: messageOf(err) }, 'run lease command failed');
        },
      },
    });
  }

  set executor(executor: RunExecutor) {
    this.#executor = executor;
  }

  /** Follows durability: looks for lapsed leases while it is on. */
  follow(): void {
    if (this.#deps.durable.enabled) this.#keeper.start();
    else this.#keeper.stop();
  }

  /** Records a new run, takes its lease and executes it; not when it exists or cannot be kept. */
  async start(
    run: RunRef,
    request: AgentRunRequest,
    {
      traceparent,
      bodyDigest,
    }: { readonly traceparent?: string; readonly bodyDigest?: string } = {},
  ): Promise<Started> {
    const store = await this.#connectedStore();
    if (store === undefined) return { started: false, reason: 'unavailable' };
    const record: AgentRunRecord = {
      state: 'running',
      owner: run.owner,
      client: run.client,
      request,
      startedAt: this.#deps.clock.now(),
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(bodyDigest === undefined ? {} : { bodyDigest }),
    };
    try {
      if (!(await store.create(run.id, record))) return { started: false, reason: 'exists' };
      // The lease's WAIT confirms the record too (one connection): its answer is both's.
      if (!(await this.#keeper.hold(run.id))) return { started: false, reason: 'exists' };
    } catch (err) {
      if (isUnacknowledged(err)) {
        // The store answers: the run is refused (retryable), never served live and unjournaled
        // beside a record or lease a failover could lose (decision 0062).
        this.#deps.metrics.unacknowledged.inc({ write: 'lease' });
        return {
          started: false,
          reason: 'unacknowledged',
          message: `run ${run.id}: ${err.message}`,
        };
      }
      this.#deps.logger.warn({ run: run.id, error: messageOf(err) }, 'cannot record a run');
      return { started: false, reason: 'unavailable' };
    }
    return { started: true, outcome: this.#execute(run, store, record) };
  }

  /** The run's record and steps; undefined when it has none (or the store cannot say). */
  async read(run: string): Promise<RunView | undefined> {
    const store = await this.#connectedStore();
    if (store === undefined) return undefined;
    const [record, steps] = await Promise.all([store.read(run), store.steps(run)]);
    return record === undefined ? undefined : { record, steps };
  }

  /** A stop begins: no run is taken over any more. */
  stopTakingOver(): void {
    this.#keeper.stopScanning();
  }

  /** Resolves once no run executes here. */
  idle(): Promise<void> {
    if (this.#local.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** A graceful stop: the runs executing here stop, their leases end now for others to take. */
  async close(): Promise<void> {
    const local = [...this.#local.values()];
    await this.#keeper.handOverAll();
    for (const controller of local) controller.abort(new Error('the runtime is stopping'));
  }

  async #execute(
    run: RunRef,
    store: AgentRunStore,
    record: AgentRunRecord,
  ): Promise<RunOutcome | undefined> {
    const controller = new AbortController();
    this.#local.set(run.id, controller);
    try {
      return await this.#executeHere(run, store, record, controller.signal);
    } finally {
      // The run may have been taken back here meanwhile (its lease lost, then lapsed).
      if (this.#local.get(run.id) === controller) this.#local.delete(run.id);
      if (this.#local.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #executeHere(
    run: RunRef,
    store: AgentRunStore,
    record: AgentRunRecord,
    signal: AbortSignal,
  ): Promise<RunOutcome | undefined> {
    const executor = this.#executor;
    if (executor === undefined) throw new Error('no executor for owned runs');
    let outcome: RunOutcome;
    try {
      outcome = await executor(run, record, signal);
    } catch (err) {
      // A newer execution superseded this one: it records the run's end.
      if (isSuperseded(err)) return undefined;
      outcome = { error: { status: 500, type: 'api_error', message: messageOf(err) } };
    }
    // Given up here (lease lost, stopping): whoever holds the lease finishes and records it.
    if (signal.aborted) return undefined;
    const done: AgentRunRecord = {
      ...record,
      state: 'result' in outcome ? 'completed' : 'failed',
      finishedAt: this.#deps.clock.now(),
      ...outcome,
    };
    try {
      await store.write(run.id, done);
      await this.#keeper.letGo(run.id);
    } catch (err) {
      // The lease lapses; the replica that takes the run over replays it and records it.
      this.#deps.logger.warn({ run: run.id, error: messageOf(err) }, 'cannot record a run end');
    }
    this.#deps.metrics.runs.inc({ outcome: done.state });
    return outcome;
  }

  async #resume(run: string, from: string): Promise<void> {
    const store = this.#store();
    try {
      const record = await store?.read(run);
      if (store === undefined || record === undefined || record.state !== 'running') {
        // Finished (its end recorded, the lease not let go), expired or unreadable.
        await this.#keeper.letGo(run);
        return;
      }
      const steps = await store.steps(run);
      this.#deps.metrics.runs.inc({ outcome: 'taken_over' });
      this.#deps.audit.record({
        event: 'run_taken_over',
        run,
        step: steps + 1,
        client: record.client,
        from,
      });
      this.#deps.logger.info(
        { run, from, steps },
        'took over a run whose lease lapsed: resuming it from its journal',
      );
      await this.#execute({ id: run, owner: record.owner, client: record.client }, store, record);
    } catch (err) {
      this.#deps.logger.warn({ run, error: messageOf(err) }, 'cannot resume a run taken over');
    }
  }

  #store(): AgentRunStore | undefined {
    const store = this.#deps.durable.store;
    return store === undefined ? undefined : new AgentRunStore(store);
  }

  /** The store as a request sees it: its first connection, when under way, waited for. */
  async #connectedStore(): Promise<AgentRunStore | undefined> {
    const store = await this.#deps.durable.connectedStore();
    return store === undefined ? undefined : new AgentRunStore(store);
  }
}

/** The leases in whichever store durability is connected to now. */
class CurrentLeases implements LeaseStore {
  readonly #durable: DurableRuns;
  readonly #replica: string;
  readonly #leaseMs: number;

  constructor(durable: DurableRuns, replica: string, leaseMs: number) {
    this.#durable = durable;
    this.#replica = replica;
    this.#leaseMs = leaseMs;
  }

  async acquire(run: string): Promise<boolean> {
    return await this.#leases().acquire(run);
  }
  async renew(run: string): Promise<boolean> {
    return await this.#leases().renew(run);
  }
  async takeOver(run: string): Promise<string | undefined> {
    return await this.#leases().takeOver(run);
  }
  async release(run: string): Promise<void> {
    await this.#leases().release(run);
  }
  async handOver(run: string): Promise<void> {
    await this.#leases().handOver(run);
  }
  async lapsed(limit: number): Promise<string[]> {
    return await this.#leases().lapsed(limit);
  }

  #leases(): RunLeases {
    const store = this.#durable.store;
    if (store === undefined) throw new Error('the journal store is not connected');
    return new RunLeases(store.client, store.prefix, this.#replica, this.#leaseMs, store.deadline);
  }
}

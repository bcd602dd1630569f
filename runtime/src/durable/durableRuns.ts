/**
 * Durable runs (AgentDeployment `durability`): the runtime's side of a run the caller names
 * with `Breakwater-Run-Id` — the journal's store and key as the policy gives them
 * (journalConnection.ts), a call's run and owner (runNames.ts), its steps (runSteps.ts: each
 * model or tool call claims its step, answered from the journal or live), the pod report and
 * the runs listing.
 */
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import type { DurabilitySettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { JournalCipher } from './journalCipher.ts';
import { JournalConnection } from './journalConnection.ts';
import type { StepAnswer, StepKind } from './journalEntry.ts';
import { RunSteps, type Begun, type ClaimedStep } from './runSteps.ts';
import { RunActivity } from './runActivity.ts';
import { listRuns } from './runListing.ts';
import type { DurableReport } from '../../../contract/src/reporting/durableReport.ts';
import type { RunsDocument } from '../../../contract/src/reporting/runsListing.ts';
import {
  ownerOf,
  parseRunName,
  RunCallers,
  type NamedRun,
  type RunAttempt,
  type RunName,
  type RunRef,
} from './runNames.ts';

export type { NamedRun, RunAttempt, RunName, RunRef } from './runNames.ts';

export type { Begun, ClaimedStep } from './runSteps.ts';

/** Where journals live, for what else a run keeps beside its journal (agentRunStore.ts). */
/** A store command raced against the journal's deadline (JournalConnection.deadline). */
export type Deadline = <T>(op: Promise<T>) => Promise<T>;

export interface JournalStore {
  readonly client: StoreCommands;
  /** Every command on `client` goes through it: a store that stopped answering fails it. */
  readonly deadline: Deadline;
  readonly cipher: JournalCipher;
  readonly prefix: string;
  readonly retentionMs: number;
}

export interface DurableDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: DurableMetrics;
  readonly audit: AuditLog;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export class DurableRuns {
  readonly #deps: DurableDeps;
  readonly #link: JournalConnection;
  readonly #steps: RunSteps;
  readonly #callers = new RunCallers();

  /** What the pod report says of runs and the store (runActivity.ts). */
  readonly activity: RunActivity;

  constructor(deps: DurableDeps) {
    this.#deps = deps;
    this.activity = new RunActivity(deps.clock);
    this.#link = new JournalConnection({ ...deps, activity: this.activity });
    this.#steps = new RunSteps({ ...deps, link: this.#link, activity: this.activity });
  }

  get enabled(): boolean {
    return this.#link.current !== undefined;
  }

  /**
   * Why runs are not kept though `spec.durability` asks for them: the journal key or the
   * store's Secret cannot be read. Undefined when durability is on, or not asked for.
   */
  get unreadable(): string | undefined {
    return this.#link.unreadable;
  }

  /** The key as a Secret among `--manifests` gave it. */
  useManifestKey(key: Buffer | undefined): void {
    this.#link.useManifestKey(key);
  }

  /** Follows the policy: connects, reconnects when the store or key changed, or closes. */
  configure(settings: DurabilitySettings | undefined): void {
    this.#link.configure(settings);
  }

  close(): void {
    this.#link.close();
  }

  /**
   * The run a call names, when durability is on; a name that cannot be one, or a missing
   * attempt, is refused, saying which and why.
   */
  runOf(name: RunName, caller: CallerIdentity): NamedRun | undefined {
    const connection = this.#link.current ?? this.#link.retryUnreadable();
    if (connection === undefined) return undefined;
    const named = parseRunName(name);
    if (!named.ok) return named;
    const { id, attempt } = named;
    return { ok: true, run: { id, ...this.#callers.of(connection.cipher, caller), attempt } };
  }

  /** Who a run this caller starts belongs to (undefined: durability off). */
  ownerOf(caller: CallerIdentity): RunRef['owner'] | undefined {
    const connection = this.#link.current;
    return connection === undefined ? undefined : ownerOf(connection.cipher, caller);
  }

  /** The journal's store, while it is connected: the runs the runtime owns keep theirs there. */
  get store(): JournalStore | undefined {
    const connection = this.#link.current;
    if (connection?.client.isReady !== true) return undefined;
    const { client, cipher, settings } = connection;
    return {
      client,
      deadline: (op) => this.#link.deadline(op),
      cipher,
      prefix: settings.keyPrefix,
      retentionMs: settings.retentionMs,
    };
  }

  /**
   * The journal's store, waiting for its first connection while that is under way: a run asked
   * for as a pod starts is kept as a run, not served as an ordinary call the store never saw.
   */
  async connectedStore(): Promise<JournalStore | undefined> {
    const connection = this.#link.current;
    if (connection !== undefined && !connection.client.isReady)
      await this.#link.firstConnection(connection);
    return this.store;
  }

  /**
   * Claims the call's step (runSteps.ts): what to answer, or where to write the live answer.
   * `repeatable`: a tool that may be called again should its outcome be lost.
   */
  begin(run: RunAttempt, kind: StepKind, request: string, repeatable = false): Promise<Begun> {
    return this.#steps.begin(run, kind, request, repeatable);
  }

  /** Writes the answer of a claimed step; resolves when it is in the journal (or given up on). */
  complete(step: ClaimedStep, answer: StepAnswer): Promise<void> {
    return this.#steps.complete(step, answer);
  }

  /** A live call that failed: its started marker goes (the caller will ask again). */
  abandon(step: ClaimedStep): Promise<void> {
    return this.#steps.abandon(step);
  }

  /** This process's report on its pod; undefined while durability is off. */
  report(): DurableReport | undefined {
    if (!this.#link.configured) return undefined;
    return this.activity.report();
  }

  /** The runs the journal holds, newest first; undefined while durability is off. */
  async list(limit: number): Promise<RunsDocument | undefined> {
    const connection = this.#link.current;
    if (connection === undefined) return undefined;
    const { keyPrefix: prefix, retentionMs } = connection.settings;
    return this.#link.deadline(
      listRuns(connection.client, { prefix, retentionMs, limit, now: this.#deps.clock.now() }),
    );
  }
}

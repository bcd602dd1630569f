/**
 * Durable runs (AgentDeployment `durability`): the runtime's side of a run the caller names
 * with `Breakwater-Run-Id`. Each model or tool call of such a run first claims its step in the
 * run's journal (runJournal.ts): a step the journal holds is answered from it, a new one goes
 * live and is written, sealed (journalCipher.ts), before its answer goes back. The journal is
 * never a new way to fail (journalConnection.ts): without its store, calls go on live.
 */
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import type { DurabilitySettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import type { AuditLog } from '../audit/auditLog.ts';
import { messageOf } from '../rateLimitStore/storeConnection.ts';
import { isUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { JournalCipher } from './journalCipher.ts';
import { JournalConnection, type Connection } from './journalConnection.ts';
import {
  decodeStep,
  encodeDone,
  HEADER_LENGTH,
  stepHeader,
  type StepAnswer,
  type StepKind,
} from './journalEntry.ts';
import { RunDebts } from './runDebts.ts';
import { claimOf, type Claim } from './runJournal.ts';
import { RunTails } from './runTails.ts';
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

/** A step this call claimed and must complete (or abandon). */
export interface ClaimedStep {
  readonly run: RunAttempt;
  readonly position: number;
  readonly kind: StepKind;
  readonly match: string;
  /** Not claimed: a repeatable call at the run's live tail, appended when it completes. */
  readonly atTail?: true;
}

export type Begun =
  /** Go on live; `step` is where to write the answer (undefined: unjournaled). */
  | { readonly action: 'live'; readonly step?: ClaimedStep }
  | { readonly action: 'replay'; readonly answer: StepAnswer }
  /** The journal holds this call started and never completed. */
  | { readonly action: 'unknown'; readonly step: ClaimedStep }
  /** 403: another key's run; 409: the call's attempt was superseded by a newer one. */
  | { readonly action: 'refused'; readonly status: 403 | 409 | 503; readonly message: string };

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
  readonly #tails = new RunTails();
  readonly #debts = new RunDebts();
  readonly #callers = new RunCallers();

  /** What the pod report says of runs and the store (runActivity.ts). */
  readonly activity: RunActivity;

  constructor(deps: DurableDeps) {
    this.#deps = deps;
    this.activity = new RunActivity(deps.clock);
    this.#link = new JournalConnection({ ...deps, activity: this.activity });
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
   * Claims the call's step: what to answer, or where to write the live answer. A call that may
   * be made again should its outcome be lost (every model call; a tool only when the caller says
   * so, `repeatable`) is not claimed at this replica's live tail of the run: nothing needs
   * marking before it, and its answer is appended in one round trip when it completes.
   */
  async begin(
    run: RunAttempt,
    kind: StepKind,
    request: string,
    repeatable = false,
  ): Promise<Begun> {
    const connection = this.#link.current;
    if (connection === undefined) return { action: 'live' };
    this.activity.called(`${run.owner}|${run.id}`);
    const match = connection.cipher.match(request);
    const tail = tailOf(run);
    if (!connection.client.isReady && !(await this.#link.firstConnection(connection))) {
      this.#link.degrade('store_unavailable', this.#link.notConnected);
      this.#unjournaled(run, stepHeader(kind, 'started', match), false);
      return { action: 'live' };
    }
    const atTail =
      (kind === 'model' || repeatable) && !this.#debts.owes(tail, run.attempt)
        ? this.#tails.take(tail, run.attempt)
        : undefined;
    if (atTail !== undefined)
      return { action: 'live', step: { run, position: atTail, kind, match, atTail: true } };
    let claim;
    try {
      claim = await this.#claim(connection, run, kind, match);
    } catch (err) {
      if (!isUnacknowledged(err)) throw err;
      // A claim a failover could lose lets the step run twice: refused, the caller asks again —
      // and the claim, made on the primary, is taken back by the attempt's next one.
      this.#deps.metrics.unacknowledged.inc({ write: 'claim' });
      const made = claimOf(err.reply);
      if (made.verdict === 'live' || made.verdict === 'replay')
        this.#debts.refused(tail, run.attempt, {
          position: made.position,
          live: made.verdict === 'live',
          header:
            made.verdict === 'live'
              ? stepHeader(kind, 'started', match)
              : made.entry.slice(0, HEADER_LENGTH),
        });
      return { action: 'refused', status: 503, message: `run ${run.id}: ${err.message}` };
    }
    if (claim === undefined) return { action: 'live' };
    this.#link.recovered();
    if (claim.verdict === 'superseded') {
      this.#tails.forget(tail, run.attempt);
      return {
        action: 'refused',
        status: 409,
        message: `run ${run.id} was started again as another attempt: attempt ${run.attempt} may no longer continue it`,
      };
    }
    if (claim.verdict === 'forbidden') {
      this.#deps.metrics.refused.inc();
      this.#deps.audit.record({ event: 'run_refused', run: run.id, step: 0, client: run.client });
      return {
        action: 'refused',
        status: 403,
        message: `run ${run.id} was started with another client key: only that key may continue or replay it`,
      };
    }
    this.#tails.claimed(tail, run.attempt, claim.position, claim.verdict === 'live');
    const step: ClaimedStep = { run, position: claim.position, kind, match };
    if (claim.verdict === 'live') {
      if (claim.diverged) this.#diverged(run, claim.position);
      return { action: 'live', step };
    }
    if (claim.newAttempt) {
      this.#deps.metrics.runs.inc({ outcome: 'resumed' });
      this.activity.resumed();
      this.#deps.audit.record({ event: 'run_resumed', run: run.id, step: 1, client: run.client });
      this.#deps.logger.info({ run: run.id }, 'durable run resumed: replaying its journal');
    }
    let decoded;
    try {
      decoded = decodeStep(connection.cipher, run.id, claim.entry);
    } catch (err) {
      // Sealed under another key (rotated) or damaged: the call goes live and rewrites it.
      this.#deps.logger.warn({ run: run.id, error: messageOf(err) }, 'journal entry unreadable');
      return { action: 'unknown', step };
    }
    if (decoded.answer === undefined) return { action: 'unknown', step };
    this.#deps.metrics.replayed.inc({ kind });
    this.activity.replayed();
    return { action: 'replay', answer: decoded.answer };
  }

  /** Writes the answer of a claimed step; resolves when it is in the journal (or given up on). */
  async complete(step: ClaimedStep, answer: StepAnswer): Promise<void> {
    const connection = this.#link.current;
    if (connection === undefined) return;
    const entry = encodeDone(connection.cipher, step.run.id, step.match, answer);
    const { run } = step;
    if (step.atTail === true) {
      const appended = await this.#link.within(
        connection.journal.append(run.id, run.owner, step.position, entry, run.attempt),
      );
      if (appended === 1) return;
      // The run moved on elsewhere (or expired): this answer is placed as any call's is.
      this.#tails.forget(tailOf(run), run.attempt);
      if (appended === 0) await this.#claimAndComplete(connection, step, answer);
      // No answer in time: the append may yet land, or the call is owed its place.
      else if (appended === undefined)
        this.#unjournaled(run, stepHeader(step.kind, 'started', step.match), true);
      return;
    }
    await this.#link.within(
      connection.journal.complete(run.id, step.position, step.kind, step.match, entry),
    );
  }

  /**
   * The call's claim, carrying what its attempt owes the journal (runDebts.ts); undefined when
   * the store gave no answer in time (the call goes on unjournaled, and is owed its place). A
   * claim no replica confirmed throws UnacknowledgedWriteError: it was made on the primary.
   */
  async #claim(
    connection: Connection,
    run: RunAttempt,
    kind: StepKind,
    match: string,
  ): Promise<Claim | undefined> {
    const tail = tailOf(run);
    const debt = this.#debts.take(tail, run.attempt);
    const header = stepHeader(kind, 'started', match);
    const claim = await this.#link.within(
      connection.journal.claim(run.id, run.owner, kind, match, run.attempt, debt),
    );
    if (claim === undefined) {
      this.#tails.forget(tail, run.attempt);
      this.#debts.unanswered(tail, run.attempt, debt, header);
    }
    return claim;
  }

  /** A call of `run` went on without the journal: it is owed its place (runDebts.ts). */
  #unjournaled(run: RunAttempt, header: string, maybeLanded: boolean): void {
    this.#tails.forget(tailOf(run), run.attempt);
    this.#debts.unjournaled(tailOf(run), run.attempt, header, maybeLanded);
  }

  async #claimAndComplete(
    connection: Connection,
    step: ClaimedStep,
    answer: StepAnswer,
  ): Promise<void> {
    const { run } = step;
    // The call is done: a claim no replica confirmed is the primary's, and its answer goes there.
    const claim = await this.#claim(connection, run, step.kind, step.match).catch((err: unknown) =>
      isUnacknowledged(err) ? claimOf(err.reply) : undefined,
    );
    if (claim?.verdict !== 'live') return;
    if (claim.diverged) this.#diverged(run, claim.position);
    await this.complete(
      { run, position: claim.position, kind: step.kind, match: step.match },
      answer,
    );
  }

  /** A live call that failed: its started marker goes (the caller will ask again). */
  async abandon(step: ClaimedStep): Promise<void> {
    const connection = this.#link.current;
    if (connection === undefined) return;
    if (step.atTail === true) {
      // Nothing was written; the next call claims its step.
      this.#tails.forget(tailOf(step.run), step.run.attempt);
      return;
    }
    // The call already failed and is not journaled either way: a store that cannot drop the
    // marker leaves a started step, which a replay treats as an unknown outcome.
    await this.#link
      .deadline(
        connection.journal.abandon(
          step.run.id,
          step.position,
          step.kind,
          step.match,
          step.run.attempt,
        ),
      )
      .catch(() => undefined);
  }

  #diverged(run: RunAttempt, position: number): void {
    this.#deps.metrics.runs.inc({ outcome: 'diverged' });
    this.activity.diverged();
    this.#deps.audit.record({
      event: 'run_diverged',
      run: run.id,
      step: position + 1,
      client: run.client,
    });
    this.#deps.logger.warn(
      { run: run.id, step: position + 1 },
      'durable run diverged from its journal: going on live from this step',
    );
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

/** Where this replica left a run (runTails.ts): one attempt's tail at a time. */
function tailOf(run: RunRef): string {
  return `${run.owner}|${run.id}`;
}

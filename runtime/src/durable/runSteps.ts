/**
 * The steps of durable runs as their calls claim them (durableRuns.ts serves the rest): each
 * model or tool call of a run claims its step in the run's journal (runJournal.ts) — a step the
 * journal holds is answered from it, a new one goes live and its answer is written, sealed
 * (journalCipher.ts), before it goes back. The journal is never a new way to fail
 * (journalConnection.ts): without its store, calls go on live and are owed their place
 * (runDebts.ts), but for a tool that may not be called again in an attempt still replaying.
 */
import type { AuditLog } from '../audit/auditLog.ts';
import { messageOf, reasonOf } from '../rateLimitStore/storeConnection.ts';
import { isUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { Connection, JournalConnection } from './journalConnection.ts';
import {
  decodeStep,
  encodeDone,
  HEADER_LENGTH,
  stepHeader,
  type StepAnswer,
  type StepKind,
} from './journalEntry.ts';
import type { RunActivity } from './runActivity.ts';
import { RunDebts, type Debt } from './runDebts.ts';
import { claimOf, type Claim } from './runJournal.ts';
import type { RunAttempt, RunRef } from './runNames.ts';
import { RunTails } from './runTails.ts';

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

export interface RunStepsDeps {
  readonly logger: Logger;
  readonly metrics: DurableMetrics;
  readonly audit: AuditLog;
  readonly link: JournalConnection;
  readonly activity: RunActivity;
}

export class RunSteps {
  readonly #deps: RunStepsDeps;
  readonly #link: JournalConnection;
  readonly #tails = new RunTails();
  readonly #debts = new RunDebts();

  constructor(deps: RunStepsDeps) {
    this.#deps = deps;
    this.#link = deps.link;
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
    this.#deps.activity.called(`${run.owner}|${run.id}`);
    const match = connection.cipher.match(request);
    const tail = tailOf(run);
    if (!connection.client.isReady && !(await this.#link.firstConnection(connection))) {
      const debt = this.#debts.take(tail);
      const error = new Error(this.#link.notConnected);
      return this.#unclaimed(run, kind, match, repeatable, {
        verdict: 'unclaimed',
        debt,
        landed: false,
        error,
        reason: 'store_unavailable',
      });
    }
    const atTail =
      (kind === 'model' || repeatable) && !this.#debts.owes(tail)
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
    if (claim.verdict === 'unclaimed') return this.#unclaimed(run, kind, match, repeatable, claim);
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
    this.#tails.claimed(
      tail,
      run.attempt,
      claim.position,
      claim.verdict === 'live',
      claim.verdict === 'replay' && claim.ahead,
    );
    const step: ClaimedStep = { run, position: claim.position, kind, match };
    if (claim.verdict === 'live') {
      if (claim.diverged) this.#diverged(run, claim.position);
      return { action: 'live', step };
    }
    if (claim.newAttempt) {
      this.#deps.metrics.runs.inc({ outcome: 'resumed' });
      this.#deps.activity.resumed();
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
    this.#deps.activity.replayed();
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
        this.#debts.unjournaled(
          tailOf(run),
          run.attempt,
          stepHeader(step.kind, 'started', step.match),
          true,
        );
      return;
    }
    await this.#link.within(
      connection.journal.complete(run.id, step.position, step.kind, step.match, entry),
    );
  }

  /**
   * The call's claim, carrying what is owed the run here (runDebts.ts); or, when the store gave
   * no claim, what it carried and whether it may have landed: the caller owes it again (with the
   * call, when the call goes on). A claim no replica confirmed throws UnacknowledgedWriteError:
   * it was made on the primary.
   */
  async #claim(
    connection: Connection,
    run: RunAttempt,
    kind: StepKind,
    match: string,
  ): Promise<Claim | Unclaimed> {
    const debt = this.#debts.take(tailOf(run));
    try {
      return await this.#link.deadline(
        connection.journal.claim(run.id, run.owner, kind, match, run.attempt, debt),
      );
    } catch (err) {
      if (isUnacknowledged(err)) throw err;
      this.#tails.forget(tailOf(run), run.attempt);
      // A reply the store gave (OOM, TRYAGAIN, CLUSTERDOWN…) ran nothing; none in time may have.
      return { verdict: 'unclaimed', debt, landed: reasonOf(err) === 'Unreachable', error: err };
    }
  }

  /**
   * A call the journal could not claim. It goes on live and unjournaled (counted, D7), owed its
   * place — unless it is a tool that may not be called again in an attempt still replaying its
   * journal: the journal most likely holds it, so it is refused (503, retryable) rather than run
   * twice, and a claim that may have replayed it is taken back by the next.
   */
  #unclaimed(
    run: RunAttempt,
    kind: StepKind,
    match: string,
    repeatable: boolean,
    failed: Unclaimed,
  ): Begun {
    const tail = tailOf(run);
    const replayed = this.#tails.replaying(tail, run.attempt);
    if (kind === 'tool' && !repeatable && replayed !== undefined) {
      this.#debts.unanswered(tail, run.attempt, failed.debt, undefined, failed.landed);
      if (failed.landed)
        this.#debts.refused(tail, run.attempt, {
          position: replayed + 1,
          live: false,
          header: stepHeader(kind, 'done', match),
        });
      return {
        action: 'refused',
        status: 503,
        message: `run ${run.id} is replaying its journal and the journal store did not answer (${messageOf(failed.error)}): nothing was called; ask again`,
      };
    }
    this.#link.degrade(failed.reason ?? 'store_error', messageOf(failed.error));
    this.#tails.forget(tail, run.attempt);
    this.#debts.unanswered(
      tail,
      run.attempt,
      failed.debt,
      stepHeader(kind, 'started', match),
      failed.landed,
    );
    return { action: 'live' };
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
    this.#deps.activity.diverged();
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
}

/** A claim the store did not make (or answer in time), and what it carried. */
interface Unclaimed {
  readonly verdict: 'unclaimed';
  readonly debt: Debt | undefined;
  /** No answer in time: it may have been made. */
  readonly landed: boolean;
  readonly error: unknown;
  readonly reason?: 'store_unavailable';
}

/** Where this replica left a run (runTails.ts): one attempt's tail at a time. */
function tailOf(run: RunRef): string {
  return `${run.owner}|${run.id}`;
}

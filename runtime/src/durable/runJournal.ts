/**
 * A run's journal in Redis: the keys of one run under the agent's prefix, with the run id as
 * the Redis Cluster hash tag so one script sees them all —
 *
 *   <prefix>:{<run>}:log       the steps, in order (journalEntry.ts)
 *   <prefix>:{<run>}:cursor    the next step the run's current attempt expects, and that attempt
 *   <prefix>:{<run>}:owner     the fingerprint of the client key that started the run
 *   <prefix>:{<run>}:attempts  the attempts the run has had
 *
 * Each call claims its step atomically (claim.lua), by its place in its attempt: the N-th call
 * of an attempt is matched with step N. Every call names its attempt (a team's own agent with
 * `Breakwater-Run-Attempt`, server/runHeaders.ts; the runtime's own executions with a random
 * id), and nothing is matched by what it resembles. A call of an attempt the cursor does not
 * hold begins that attempt at step one (a run executed again, an agent restarted); a call of an
 * attempt a newer one replaced is refused (superseded), so a stale executor never moves the run.
 * The step under the cursor is replayed when the request is the same; otherwise a new step is
 * written at the end, the rest of the journal dropped when the cursor was not at its end (the
 * run diverged). A tool call found a few steps later in the same stretch of tool steps
 * (parallel calls, another order) is swapped into the cursor's place.
 * Every write sets the keys to expire `retention` after it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import { sendScript, type LuaScript } from '../rateLimitStore/luaScripts.ts';
import { acceptUnacknowledged } from '../rateLimitStore/replicaAcknowledged.ts';
import { stepHeader, type StepKind } from './journalEntry.ts';
import { debtArguments, type Debt } from './runDebts.ts';

/** The script `name`, after the files of `prelude` (which only define local functions). */
function load(name: string, prelude: readonly string[] = []): LuaScript {
  const source = [...prelude, name]
    .map((file) => readFileSync(new URL(`./${file}.lua`, import.meta.url), 'utf8'))
    .join('\n');
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** A reshard's TRYAGAIN is asked again this often, this many times (about the journal's deadline). */
const TRYAGAIN_WAIT_MS = 25;
const TRYAGAIN_TRIES = 40;

const CLAIM_SCRIPT = load('claim', ['owner', 'cursor']);
const COMPLETE_SCRIPT = load('complete', ['cursor']);
const APPEND_SCRIPT = load('append', ['owner', 'cursor']);

export type Claim =
  | { readonly verdict: 'forbidden' }
  /** The call's attempt was replaced by a newer one: it may not move the run. */
  | { readonly verdict: 'superseded' }
  | {
      readonly verdict: 'replay';
      readonly position: number;
      readonly entry: string;
      /** This call was the first of a new attempt (a restarted agent). */
      readonly newAttempt: boolean;
      /** The journal holds steps after this one: the attempt is still replaying. */
      readonly ahead: boolean;
    }
  | {
      readonly verdict: 'live';
      readonly position: number;
      /** The run's journal differed from here: what followed was dropped. */
      readonly diverged: boolean;
    };

/** claim.lua's reply, read (also a claim's no replica confirmed, UnacknowledgedWriteError.reply). */
export function claimOf(reply: unknown): Claim {
  const [verdict, position, entry, flag, length] = reply as [
    string,
    number,
    string,
    number,
    number | undefined,
  ];
  if (verdict === 'forbidden' || verdict === 'superseded') return { verdict };
  if (verdict === 'replay')
    return {
      verdict,
      position,
      entry,
      newAttempt: flag === 1,
      ahead: length !== undefined && position + 1 < length,
    };
  return { verdict: 'live', position, diverged: flag === 1 };
}

/** The three keys of one run. */
export function runKeys(prefix: string, run: string): string[] {
  const base = `${prefix}:{${run}}`;
  return [`${base}:log`, `${base}:cursor`, `${base}:owner`];
}

/** The attempts a run has had, each named by its caller (claim.lua). */
export const attemptsKey = (prefix: string, run: string): string => `${prefix}:{${run}}:attempts`;

/** The run's event counts (replayed, resumed, diverged), which its claims keep (claim.lua). */
export const countsKey = (prefix: string, run: string): string => `${prefix}:{${run}}:counts`;

export class RunJournal {
  readonly #client: StoreCommands;
  readonly #prefix: string;
  readonly #retentionMs: number;
  readonly #shortfall: () => void;

  /**
   * `shortfall` hears of a completion no replica confirmed (`acknowledge: Replicas`): the
   * effect happened, so it stands. A claim no replica confirmed throws UnacknowledgedWriteError:
   * the caller refuses the call rather than risk running the tool again after a failover.
   */
  constructor(
    client: StoreCommands,
    prefix: string,
    retentionMs: number,
    shortfall: () => void = () => undefined,
  ) {
    this.#client = client;
    this.#prefix = prefix;
    this.#retentionMs = retentionMs;
    this.#shortfall = shortfall;
  }

  /**
   * `script` sent, and sent again while a cluster answers TRYAGAIN (the run's keys are half
   * moved to another node mid-reshard: the script did not run, and will once the move is done)
   * — every TRYAGAIN_WAIT_MS, for as long as the caller's deadline lets it (JournalConnection).
   */
  async #send(script: LuaScript, keys: readonly string[], args: readonly string[]) {
    for (let tries = 1; ; tries++) {
      try {
        return await sendScript(this.#client, script, keys, args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('TRYAGAIN')) throw err;
        if (tries >= TRYAGAIN_TRIES) throw err;
        await sleep(TRYAGAIN_WAIT_MS);
      }
    }
  }

  /** A write after the call's effect: taken as it is when no replica confirmed it. */
  #after(write: Promise<unknown>): Promise<unknown> {
    return acceptUnacknowledged(write, this.#shortfall);
  }

  /**
   * `attempt` names the call's attempt (claim.lua); `debt`, what the attempt owes the journal
   * first (runDebts.ts): calls it missed, each put in its own place, and a refused claim taken back.
   */
  async claim(
    run: string,
    owner: string,
    kind: StepKind,
    match: string,
    attempt: string,
    debt?: Debt,
  ): Promise<Claim> {
    const keys = [
      ...runKeys(this.#prefix, run),
      countsKey(this.#prefix, run),
      attemptsKey(this.#prefix, run),
    ];
    const reply = await this.#send(CLAIM_SCRIPT, keys, [
      owner,
      kind === 'model' ? 'm' : 't',
      match,
      String(this.#retentionMs),
      stepHeader(kind, 'started', match),
      attempt,
      ...debtArguments(debt),
    ]);
    return claimOf(reply);
  }

  /** Writes the done entry over the step's started marker; false when the step is gone. */
  async complete(
    run: string,
    position: number,
    kind: StepKind,
    match: string,
    entry: string,
  ): Promise<boolean> {
    const reply = await this.#after(
      this.#send(COMPLETE_SCRIPT, runKeys(this.#prefix, run), [
        String(position),
        stepHeader(kind, 'started', match),
        entry,
        String(this.#retentionMs),
      ]),
    );
    return reply === 1;
  }

  /**
   * Appends a done step at `position` when the run's journal and cursor both end there (a
   * repeatable call at the run's live tail: no claim was needed) for the same attempt. 1 written,
   * 0 the run moved on (claim it instead), -1 another owner's.
   */
  async append(
    run: string,
    owner: string,
    position: number,
    entry: string,
    attempt: string,
  ): Promise<number> {
    const reply = await this.#after(
      this.#send(APPEND_SCRIPT, runKeys(this.#prefix, run), [
        owner,
        String(position),
        entry,
        String(this.#retentionMs),
        attempt,
      ]),
    );
    return Number(reply);
  }

  /** Drops a failed call's started marker while it is the last step (the caller will ask again). */
  async abandon(
    run: string,
    position: number,
    kind: StepKind,
    match: string,
    attempt: string,
  ): Promise<void> {
    await this.#after(
      this.#send(COMPLETE_SCRIPT, runKeys(this.#prefix, run), [
        String(position),
        stepHeader(kind, 'started', match),
        '',
        String(this.#retentionMs),
        attempt,
      ]),
    );
  }
}

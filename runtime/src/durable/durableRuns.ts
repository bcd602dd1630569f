/**
 * Durable runs (AgentDeployment `durability`): the runtime's side of a run the caller names
 * with `Breakwater-Run-Id`. Each model or tool call of such a run first claims its step in the
 * run's journal (runJournal.ts): a step the journal holds is answered from it, a new one goes
 * live and is written, sealed (journalCipher.ts), before its answer goes back.
 *
 * The journal is never a new way to fail: with the store unreachable, slow (each command waits
 * at most OP_TIMEOUT_MS) or the key unreadable, the call goes on live and unjournaled, counted
 * and logged once per change.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import type { RedisClientType } from '@redis/client';
import {
  DURABILITY_CA_FILE,
  DURABILITY_CA_FILE_ENV,
  DURABILITY_KEY_FILE,
  DURABILITY_KEY_FILE_ENV,
  DURABILITY_MOUNT_PATH,
  DURABILITY_PASSWORD_FILE,
  DURABILITY_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { DurabilitySettings } from '../../../contract/src/policy/policyDocument.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { clientFingerprint, type AuditLog } from '../audit/auditLog.ts';
import { messageOf, readSecrets, redisClient } from '../rateLimitStore/storeConnection.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import { JournalCipher, parseJournalKey } from './journalCipher.ts';
import { decodeStep, encodeDone, type StepAnswer, type StepKind } from './journalEntry.ts';
import { RunJournal } from './runJournal.ts';
import { RunTails } from './runTails.ts';
import { RunActivity } from './runActivity.ts';
import { countRunEvent, listRuns, type RunEvent } from './runListing.ts';
import type { DurableReport } from '../../../contract/src/reporting/durableReport.ts';
import type { RunsDocument } from '../../../contract/src/reporting/runsListing.ts';

export const RUN_ID_HEADER = 'breakwater-run-id';
const RUN_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * The longest a call waits for the journal before it goes on without it. A model call takes
 * seconds, and a step left out of the journal makes a resumed run diverge there: a second is
 * worth waiting on a slow store. A store that is down answers at once (connection refused).
 */
const OP_TIMEOUT_MS = 1_000;
/**
 * The longest a call waits for a store just configured to connect (a pod's first calls arrive
 * while it connects). Without the wait those calls went on unjournaled, and their runs could
 * not resume. Only the first attempt is waited for: once it failed, calls go on at once.
 */
const FIRST_CONNECT_MS = 3_000;
const TIMED_OUT = Symbol('timed out');
/** How often an unreadable journal key is read again. */
const KEY_RETRY_MS = 10_000;

/** A run as one call names it: its id and who may use it. */
export interface RunRef {
  readonly id: string;
  /** An HMAC of the client key (or `pods` for the agent's own pod keys): never the key. */
  readonly owner: string;
  /** The audit trail's fingerprint of the key. */
  readonly client: string | undefined;
}

/** A step this call claimed and must complete (or abandon). */
export interface ClaimedStep {
  readonly run: RunRef;
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
  | { readonly action: 'refused'; readonly message: string };

export type RunHeader =
  { readonly ok: true; readonly run: RunRef } | { readonly ok: false; readonly message: string };

/** Where journals live, for what else a run keeps beside its journal (agentRunStore.ts). */
export interface JournalStore {
  readonly client: RedisClientType;
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

interface Connection {
  readonly settings: DurabilitySettings;
  readonly client: RedisClientType;
  readonly journal: RunJournal;
  readonly cipher: JournalCipher;
  /** The first connection attempt while it is under way: true once ready, false on an error. */
  firstAttempt?: Promise<boolean> | undefined;
}

export class DurableRuns {
  readonly #deps: DurableDeps;
  #connection: Connection | undefined;
  /** The key from a Secret among `--manifests` (else the mounted file is read). */
  #manifestKey: Buffer | undefined;
  #degraded: string | undefined;
  readonly #tails = new RunTails();
  /** Settings whose key or Secret could not be read: tried again on a run's call, now and then. */
  #unreadable: { readonly settings: DurabilitySettings; retryAt: number } | undefined;

  /** What the pod report says of runs and the store (runActivity.ts). */
  readonly activity: RunActivity;

  constructor(deps: DurableDeps) {
    this.#deps = deps;
    this.activity = new RunActivity(deps.clock);
  }

  get enabled(): boolean {
    return this.#connection !== undefined;
  }

  /** The key as a Secret among `--manifests` gave it. */
  useManifestKey(key: Buffer | undefined): void {
    this.#manifestKey = key;
  }

  /** Follows the policy: connects, reconnects when the store or key changed, or closes. */
  configure(settings: DurabilitySettings | undefined): void {
    const current = this.#connection;
    this.#unreadable = undefined;
    if (settings === undefined) {
      this.close();
      return;
    }
    if (current !== undefined && JSON.stringify(current.settings) === JSON.stringify(settings))
      return;
    let cipher: JournalCipher;
    let secrets: { password?: string; ca?: string };
    try {
      cipher = new JournalCipher(parseJournalKey(this.#readKey()));
      secrets = readSecrets(settings.store, this.#secretFiles());
    } catch (err) {
      this.close();
      // The kubelet may mount the Secret later (the volume is optional): read it again then.
      this.#unreadable = { settings, retryAt: this.#deps.clock.now() + KEY_RETRY_MS };
      this.activity.store('Unavailable', 'KeyUnreadable', messageOf(err));
      this.#deps.metrics.unjournaled.inc({ reason: 'no_key' }, 0);
      this.#deps.logger.error(
        { error: messageOf(err) },
        'durable runs are off: cannot read the journal key or the store Secret',
      );
      return;
    }
    this.close();
    this.activity.store('Connecting');
    const client = connect(settings, secrets, (err) => {
      this.#degrade('store_error', messageOf(err));
    });
    client.on('ready', () => {
      this.#recovered();
    });
    const connection: Connection = {
      settings,
      client,
      cipher,
      journal: new RunJournal(client, settings.keyPrefix, settings.retentionMs),
    };
    connection.firstAttempt = new Promise<boolean>((resolve) => {
      const settle = (ready: boolean): void => {
        connection.firstAttempt = undefined;
        resolve(ready);
      };
      client.once('ready', () => {
        settle(true);
      });
      client.once('error', () => {
        settle(false);
      });
    });
    this.#connection = connection;
  }

  /**
   * The run a request names, when durability is on and it names one; an id that cannot be
   * one is refused by the caller with the header's name.
   */
  runOf(
    headers: IncomingHttpHeaders,
    presentedKey: string | undefined,
    podKey: boolean,
  ): RunHeader | undefined {
    const id = headers[RUN_ID_HEADER];
    if (id === undefined) return undefined;
    const connection = this.#connection ?? this.#retryUnreadable();
    if (connection === undefined) return undefined;
    if (typeof id !== 'string' || !RUN_ID.test(id))
      return {
        ok: false,
        message: `header Breakwater-Run-Id must be 1 to 128 letters, digits or . _ : -, got ${JSON.stringify(id)}`,
      };
    const owner = ownerOf(connection.cipher, presentedKey, podKey);
    return { ok: true, run: { id, owner, client: fingerprintOf(presentedKey, podKey) } };
  }

  /** Who a run started with this key belongs to (undefined: durability off). */
  ownerOf(presentedKey: string | undefined, podKey: boolean): RunRef['owner'] | undefined {
    const connection = this.#connection;
    return connection === undefined ? undefined : ownerOf(connection.cipher, presentedKey, podKey);
  }

  /** The journal's store, while it is connected: the runs the runtime owns keep theirs there. */
  get store(): JournalStore | undefined {
    const connection = this.#connection;
    if (connection?.client.isReady !== true) return undefined;
    const { client, cipher, settings } = connection;
    return { client, cipher, prefix: settings.keyPrefix, retentionMs: settings.retentionMs };
  }

  /**
   * Claims the call's step: what to answer, or where to write the live answer. A call that may
   * be made again should its outcome be lost (every model call; a tool only when the caller says
   * so, `repeatable`) is not claimed at this replica's live tail of the run: nothing needs
   * marking before it, and its answer is appended in one round trip when it completes.
   */
  async begin(run: RunRef, kind: StepKind, request: string, repeatable = false): Promise<Begun> {
    const connection = this.#connection;
    if (connection === undefined) return { action: 'live' };
    this.activity.called(`${run.owner}|${run.id}`);
    if (!connection.client.isReady && !(await this.#firstConnection(connection))) {
      this.#degrade('store_unavailable', 'the journal store is not connected');
      return { action: 'live' };
    }
    const match = connection.cipher.match(request);
    const tailKey = `${run.owner}|${run.id}`;
    const atTail = kind === 'model' || repeatable ? this.#tails.take(tailKey, match) : undefined;
    if (atTail !== undefined)
      return { action: 'live', step: { run, position: atTail, kind, match, atTail: true } };
    const claim = await this.#within(connection.journal.claim(run.id, run.owner, kind, match));
    if (claim === undefined) return { action: 'live' };
    this.#recovered();
    if (claim.verdict !== 'forbidden')
      this.#tails.claimed(tailKey, claim.position, match, claim.verdict === 'live');
    if (claim.verdict === 'forbidden') {
      this.#deps.metrics.refused.inc();
      this.#deps.audit.record({ event: 'run_refused', run: run.id, step: 0, client: run.client });
      return {
        action: 'refused',
        message: `run ${run.id} was started with another client key: only that key may continue or replay it`,
      };
    }
    const step: ClaimedStep = { run, position: claim.position, kind, match };
    if (claim.verdict === 'live') {
      if (claim.diverged) this.#diverged(run, claim.position);
      return { action: 'live', step };
    }
    if (claim.newAttempt) {
      this.#deps.metrics.runs.inc({ outcome: 'resumed' });
      this.#count(connection, run, 'resumed');
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
    this.#count(connection, run, 'replayed');
    return { action: 'replay', answer: decoded.answer };
  }

  /** Writes the answer of a claimed step; resolves when it is in the journal (or given up on). */
  async complete(step: ClaimedStep, answer: StepAnswer): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined) return;
    const entry = encodeDone(connection.cipher, step.run.id, step.match, answer);
    const { run } = step;
    if (step.atTail === true) {
      const appended = await this.#within(
        connection.journal.append(run.id, run.owner, step.position, entry),
      );
      if (appended === 1) return;
      // The run moved on elsewhere (or expired): this answer is placed as any call's is.
      this.#tails.forget(`${run.owner}|${run.id}`);
      if (appended === 0) await this.#claimAndComplete(connection, step, answer);
      return;
    }
    await this.#within(
      connection.journal.complete(run.id, step.position, step.kind, step.match, entry),
    );
  }

  async #claimAndComplete(
    connection: Connection,
    step: ClaimedStep,
    answer: StepAnswer,
  ): Promise<void> {
    const { run } = step;
    const claim = await this.#within(
      connection.journal.claim(run.id, run.owner, step.kind, step.match),
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
    const connection = this.#connection;
    if (connection === undefined) return;
    if (step.atTail === true) {
      // Nothing was written; the next call claims its step.
      this.#tails.forget(`${step.run.owner}|${step.run.id}`);
      return;
    }
    await this.#within(
      connection.journal.abandon(step.run.id, step.position, step.kind, step.match),
    );
  }

  /** A call of a run while the key is unreadable: counted, and the key read again now and then. */
  #retryUnreadable(): Connection | undefined {
    const unreadable = this.#unreadable;
    if (unreadable === undefined) return undefined;
    this.#deps.metrics.unjournaled.inc({ reason: 'no_key' });
    if (this.#deps.clock.now() < unreadable.retryAt) return undefined;
    this.configure(unreadable.settings);
    return this.#connection;
  }

  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection?.client.isOpen === true) connection.client.destroy();
  }

  #diverged(run: RunRef, position: number): void {
    this.#deps.metrics.runs.inc({ outcome: 'diverged' });
    if (this.#connection !== undefined) this.#count(this.#connection, run, 'diverged');
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

  /** Whether the store's first connection, when it is under way, is made within FIRST_CONNECT_MS. */
  async #firstConnection(connection: Connection): Promise<boolean> {
    const attempt = connection.firstAttempt;
    if (attempt === undefined) return false;
    let cancel: (() => void) | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      cancel = this.#deps.clock.setTimeout(() => {
        resolve(false);
      }, FIRST_CONNECT_MS);
    });
    try {
      return (await Promise.race([attempt, deadline])) && connection.client.isReady;
    } finally {
      cancel?.();
    }
  }

  /** `op`'s answer, or undefined when it failed or took longer than OP_TIMEOUT_MS. */
  async #within<T>(op: Promise<T>): Promise<T | undefined> {
    let cancel: (() => void) | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      cancel = this.#deps.clock.setTimeout(() => {
        resolve(TIMED_OUT);
      }, OP_TIMEOUT_MS);
    });
    try {
      const answer = await Promise.race([op, deadline]);
      if (answer !== TIMED_OUT) return answer;
      this.#degrade('store_error', `no answer within ${String(OP_TIMEOUT_MS)}ms`);
      return undefined;
    } catch (err) {
      this.#degrade('store_error', messageOf(err));
      return undefined;
    } finally {
      cancel?.();
    }
  }

  /** Counts the event for the run's listing and this pod's report; never waited on. */
  #count(connection: Connection, run: RunRef, event: RunEvent): void {
    this.activity[event]();
    const { keyPrefix, retentionMs } = connection.settings;
    void this.#within(countRunEvent(connection.client, keyPrefix, run.id, event, retentionMs));
  }

  /** This process's report on its pod; undefined while durability is off. */
  report(): DurableReport | undefined {
    if (this.#connection === undefined && this.#unreadable === undefined) return undefined;
    return this.activity.report();
  }

  /** The runs the journal holds, newest first; undefined while durability is off. */
  async list(limit: number): Promise<RunsDocument | undefined> {
    const connection = this.#connection;
    if (connection === undefined) return undefined;
    const { keyPrefix: prefix, retentionMs } = connection.settings;
    return listRuns(connection.client, { prefix, retentionMs, limit, now: this.#deps.clock.now() });
  }

  #degrade(reason: 'store_unavailable' | 'store_error', message: string): void {
    this.#deps.metrics.unjournaled.inc({ reason });
    const connected = this.#connection?.client.isReady === true;
    this.activity.store('Unavailable', connected ? 'StoreError' : 'Unreachable', message);
    if (this.#degraded === message) return;
    this.#degraded = message;
    this.#deps.logger.warn(
      { reason, error: message },
      'journal store unavailable: durable runs go on live and unjournaled',
    );
  }

  #recovered(): void {
    this.activity.store('Available');
    if (this.#degraded === undefined) return;
    this.#degraded = undefined;
    this.#deps.logger.info({}, 'journal store answering: durable runs are journaled again');
  }

  #readKey(): Buffer {
    if (this.#manifestKey !== undefined) return this.#manifestKey;
    const env = this.#deps.env;
    return readFileSync(
      env[DURABILITY_KEY_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_KEY_FILE}`,
    );
  }

  #secretFiles(): { password: string; ca: string } {
    const env = this.#deps.env;
    return {
      password:
        env[DURABILITY_PASSWORD_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_PASSWORD_FILE}`,
      ca: env[DURABILITY_CA_FILE_ENV] ?? `${DURABILITY_MOUNT_PATH}/${DURABILITY_CA_FILE}`,
    };
  }
}

function ownerOf(cipher: JournalCipher, presentedKey: string | undefined, podKey: boolean): string {
  return podKey ? 'pods' : cipher.match(`client key ${presentedKey ?? ''}`);
}

function fingerprintOf(key: string | undefined, podKey: boolean): string | undefined {
  return podKey ? 'pod-key' : clientFingerprint(key);
}

/** A client for the journal's store: never queues while disconnected, reconnects with backoff. */
function connect(
  settings: DurabilitySettings,
  secrets: { password?: string; ca?: string },
  onError: (err: unknown) => void,
): RedisClientType {
  const client = redisClient(settings.store.redis, secrets);
  client.on('error', onError);
  client.connect().catch(onError);
  return client;
}

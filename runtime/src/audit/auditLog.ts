/**
 * The audit log: one JSON line per model interaction and per policy or override change,
 * on its own logger (stdout by default, or a file), apart from the operational log. It
 * records who (a fingerprint of the client key, never the key), what, and how it ended —
 * not the prompts themselves.
 */
import { createHash } from 'node:crypto';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { BudgetAuditEvent } from '../budget/budgets.ts';

export type AuditEvent =
  /** A model call's budgets: the worst case it held, then what it settled. */
  | BudgetAuditEvent
  | {
      readonly event: 'model_interaction';
      readonly requestId: string;
      readonly route: string;
      readonly sessionId?: string | undefined;
      readonly client?: string | undefined;
      readonly model: string;
      readonly servedBy?: string | undefined;
      /** The backend that answered (`spec.backends[].name`). */
      readonly backend?: string | undefined;
      readonly fallbackUsed: boolean;
      readonly status: number;
      readonly inputTokens: number;
      readonly outputTokens: number;
      readonly durationMs: number;
      readonly cached?: boolean;
      /** The bundled agent's runs: the tools it called, by name, in order (never their input). */
      readonly toolCalls?: readonly string[];
    }
  | {
      readonly event: 'policy_change';
      readonly hash: string;
      readonly previousHash?: string | undefined;
      readonly source: string;
      readonly generation: number;
    }
  | {
      readonly event: 'override_change';
      readonly breakerPolicy?: string | undefined;
      readonly state: string;
      readonly previousState?: string | undefined;
      readonly reason?: string | undefined;
    }
  | {
      readonly event: 'security_incident';
      readonly requestId: string;
      readonly kind: string;
      readonly action: 'flagged' | 'blocked';
      readonly client?: string | undefined;
      /** Where the text was found: a tool's result (`server__tool`), else the caller's input. */
      readonly tool?: string | undefined;
    }
  | {
      readonly event: 'loop_detected';
      readonly requestId: string;
      readonly route: string;
      /** The tool, or the cycle as `a → b`. */
      readonly tool: string;
      readonly count: number;
      readonly mode: 'Enforce' | 'Shadow';
    }
  | {
      /**
       * A durable run asked for something else than its journal held (diverged), was resumed,
       * refused to another key, or taken over from a replica whose lease on it lapsed.
       */
      readonly event: 'run_diverged' | 'run_resumed' | 'run_refused' | 'run_taken_over';
      readonly run: string;
      /** The step (from 1) where it happened. */
      readonly step: number;
      readonly client?: string | undefined;
      /** A takeover: the replica whose lease lapsed. */
      readonly from?: string;
    };

/** The records every model call makes, kept only while the audit log is enabled. */
const PER_CALL: ReadonlySet<AuditEvent['event']> = new Set([
  'model_interaction',
  'budget_reserved',
  'budget_room_reserved',
  'budget_settled',
]);

export class AuditLog {
  readonly #logger: Logger;
  enabled: boolean;

  constructor(enabled: boolean, destination?: DestinationStream) {
    this.enabled = enabled;
    const options = {
      name: 'breakwater-audit',
      base: { audit: true },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    };
    this.#logger = destination === undefined ? pino(options) : pino(options, destination);
  }

  /**
   * Policy and override changes are always recorded; interactions and their budgets only when
   * enabled.
   */
  record(event: AuditEvent): void {
    if (!this.enabled && PER_CALL.has(event.event)) return;
    this.#logger.info(event);
  }
}

/** A short, stable, non-reversible name for a client key, for the audit trail. */
export function clientFingerprint(key: string | undefined): string | undefined {
  if (key === undefined || key === '') return undefined;
  return `key-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/**
 * What durable runs report: calls answered from a journal by kind, runs resumed and diverged,
 * the tokens and dollars replay did not spend, calls whose outcome was unknown, and calls
 * that went unjournaled because the store could not be reached, and keys the store evicted.
 */
import { Counter, type Registry } from 'prom-client';

export class DurableMetrics {
  readonly replayed: Counter<'kind'>;
  readonly runs: Counter<'outcome'>;
  readonly savedTokens: Counter<'model'>;
  readonly savedUsd: Counter<'model'>;
  readonly unknownOutcomes: Counter<'action'>;
  readonly unjournaled: Counter<'reason'>;
  readonly refused: Counter;
  readonly unacknowledged: Counter<'write'>;
  readonly evictedKeys: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.replayed = new Counter({
      name: 'agent_durable_replayed_calls_total',
      help: 'Calls of a durable run answered from its journal, by kind (model, tool): no provider or tool call.',
      labelNames: ['kind'],
      registers,
    });
    this.runs = new Counter({
      name: 'agent_durable_runs_total',
      help: 'Durable runs by outcome: resumed (a restarted run replayed its journal), diverged (it asked for something else and went on live); the runs the runtime owns: taken_over (from a replica whose lease lapsed), completed, failed.',
      labelNames: ['outcome'],
      registers,
    });
    this.savedTokens = new Counter({
      name: 'agent_durable_saved_tokens_total',
      help: 'Tokens not spent because a model call was replayed from a journal, by model.',
      labelNames: ['model'],
      registers,
    });
    this.savedUsd = new Counter({
      name: 'agent_durable_saved_usd_total',
      help: 'Dollars not spent because a model call was replayed from a journal, by model (the price table).',
      labelNames: ['model'],
      registers,
    });
    this.unknownOutcomes = new Counter({
      name: 'agent_durable_unknown_outcomes_total',
      help: 'Tool calls found started and never completed on replay, by action: retried, failed (an is_error result).',
      labelNames: ['action'],
      registers,
    });
    this.unacknowledged = new Counter({
      name: 'agent_durable_unacknowledged_writes_total',
      help: 'Journal writes the primary took that no replica confirmed in time (acknowledge: Replicas), by write: claim (the call was refused), complete (kept on the primary alone), lease (a run the runtime owns: not started, or its lease not held).',
      labelNames: ['write'],
      registers,
    });
    this.unjournaled = new Counter({
      name: 'agent_durable_unjournaled_calls_total',
      help: 'Calls of a durable run that went on live without the journal, by reason (store_unavailable, store_error, no_key).',
      labelNames: ['reason'],
      registers,
    });
    this.refused = new Counter({
      name: 'agent_durable_refused_calls_total',
      help: 'Calls refused because they named a run another client key started.',
      registers,
    });
    this.evictedKeys = new Counter({
      name: 'agent_durable_store_evicted_keys_total',
      help: "Keys the journal store evicted (the growth of each server's INFO evicted_keys, read on connecting and every minute), whatever its maxmemory-policy reads now: a run's journal or owner among them lets the run repeat its tools or be taken. A server's first reading is a baseline.",
      registers,
    });
    // Exported as 0 from the start: increase() needs the series before the first eviction.
    this.evictedKeys.inc(0);
    for (const kind of ['model', 'tool']) this.replayed.inc({ kind }, 0);
    for (const outcome of ['resumed', 'diverged', 'taken_over', 'completed', 'failed'])
      this.runs.inc({ outcome }, 0);
  }
}

/**
 * Tells whoever runs the agent that one of its models is retiring: a log line when a policy first
 * names it and whenever a reload changes the models (not on every reload), and the gauge
 * `breakwater_model_end_of_life_timestamp_seconds{model}`, one series per deprecated model with
 * its end of life in Unix seconds, which the AgentModelRetiring alert reads.
 */
import type { Gauge } from 'prom-client';
import {
  describeRetirement,
  isPastEndOfLife,
  retiringModels,
  type AgentModels,
} from '../../../contract/src/api/modelRetirements.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { Logger } from './logger.ts';

export interface ModelRetirementNoticeDeps {
  readonly gauge: Gauge<'model'>;
  readonly logger: Logger;
  readonly clock: Clock;
}

export class ModelRetirementNotice {
  readonly #deps: ModelRetirementNoticeDeps;
  /** The models last seen, primary first, as one string. */
  #models: string | undefined;

  constructor(deps: ModelRetirementNoticeDeps) {
    this.#deps = deps;
  }

  /** Called with the models of every policy put in force; acts only when they changed. */
  update(models: AgentModels): void {
    const key = JSON.stringify([models.name, ...(models.fallbacks ?? [])]);
    if (key === this.#models) return;
    this.#models = key;
    const { gauge, logger, clock } = this.#deps;
    gauge.reset();
    for (const retirement of retiringModels(models)) {
      gauge.set({ model: retirement.model }, retirement.endOfLifeMs / 1000);
      const now = clock.now();
      const fields = {
        model: retirement.model,
        role: retirement.role,
        endOfLife: retirement.endOfLife,
      };
      if (isPastEndOfLife(retirement, now))
        logger.error(fields, describeRetirement(retirement, now));
      else logger.warn(fields, describeRetirement(retirement, now));
    }
  }
}

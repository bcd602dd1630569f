/** What every policy source is given and gives back (policySources.ts picks one). */
import type { Clock } from '../../../platform/src/time/clock.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface RunningSource {
  stop(): Promise<void>;
}

export interface SourceDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly clock: Clock;
}

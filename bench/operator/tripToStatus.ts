/**
 * Breaker trip in a runtime → CircuitBreakerPolicy status says so. Each round fails one
 * replica's provider calls (529 from the simulator) until its breaker opens, and times from
 * the trip as the runtime recorded it (`lastTrip`, same host clock) to the watch event that
 * brings the policy status with that trip; then lets the breaker close again.
 */
import type { CircuitBreakerPolicy } from '../../runtime/src/api/resources.ts';
import {
  callUntilOpen,
  podHttpPort,
  sendMessage,
  type PodView,
} from '../../test/support/breakwaterCluster.ts';
import type { SimulatorHandle } from '../../test/support/simulator.ts';
import { summarize, type Summary } from './percentiles.ts';
import type { WatchedCache } from './watchedCache.ts';

export interface TripInputs {
  readonly sim: SimulatorHandle;
  readonly trips: number;
  /** The policy's openDuration: how long to wait before a probe can close the breaker. */
  readonly openDurationMs: number;
  readonly pods: () => PodView[];
  readonly policy: WatchedCache<CircuitBreakerPolicy>;
  readonly log: (line: string) => void;
}

export type TripResult = Summary & { readonly samples_ms: number[] };

const ROUND_TIMEOUT_MS = 30_000;

export async function measureTripToStatus(inputs: TripInputs): Promise<TripResult> {
  const samples: number[] = [];
  const status = () => inputs.policy.items()[0]?.status;
  for (let round = 0; round < inputs.trips; round++) {
    const pods = inputs.pods();
    const pod = pods[round % pods.length];
    if (pod === undefined) throw new Error('no running pod to trip');
    const port = podHttpPort(pod);
    const tripsBefore = status()?.trips ?? 0;
    const shown = inputs.policy.when(
      (items) => {
        const s = items[0]?.status;
        return (s?.trips ?? 0) > tripsBefore && (s?.replicas?.open ?? 0) >= 1;
      },
      ROUND_TIMEOUT_MS,
      `trip ${String(round)} in the CircuitBreakerPolicy status`,
    );
    await inputs.sim.setFault({ status: 529 });
    const answers = await callUntilOpen(port);
    if (answers.at(-1) !== 503) {
      throw new Error(`trip ${String(round)}: the breaker did not open (${answers.join(',')})`);
    }
    const shownAt = await shown;
    const trippedAt = Date.parse(status()?.lastTripTime ?? '');
    if (Number.isNaN(trippedAt)) throw new Error(`trip ${String(round)}: no lastTripTime`);
    samples.push(shownAt - trippedAt);
    inputs.log(
      `trip ${String(round + 1)}/${String(inputs.trips)}: ${String(shownAt - trippedAt)} ms`,
    );

    // Recover: after openDuration a probe goes through and one success closes the breaker.
    await inputs.sim.clearFaults();
    const closed = inputs.policy.when(
      (items) => (items[0]?.status?.replicas?.open ?? 1) === 0,
      ROUND_TIMEOUT_MS,
      `trip ${String(round)}: every breaker closed again`,
    );
    await new Promise((resolve) => setTimeout(resolve, inputs.openDurationMs));
    const deadline = Date.now() + ROUND_TIMEOUT_MS;
    while ((await sendMessage(port)) !== 200) {
      if (Date.now() > deadline) throw new Error(`trip ${String(round)}: the breaker never closed`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await closed;
  }
  return { ...summarize(samples), samples_ms: samples };
}

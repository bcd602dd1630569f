/**
 * Breaker trip in a runtime → CircuitBreakerPolicy status says so. Each round fails one
 * replica's provider calls (529 from the simulator) until its breaker opens, and times from
 * the trip as the runtime recorded it (`lastTrip`, same host clock) to the watch event that
 * brings the policy status with that trip; then lets the breaker close again.
 */
import type { CircuitBreakerPolicy } from '../../contract/src/api/resources.ts';
import {
  callUntilOpen,
  podBreakers,
  podHttpUrl,
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
  // A runtime creates a breaker on its first call and reports it; the reporter sends at most
  // one patch a second, so a trip right behind that first report would wait out the interval.
  // Breakers exist long before a real storm: give every replica one good call first.
  for (const pod of inputs.pods()) {
    const answer = await sendMessage(podHttpUrl(pod));
    if (answer !== 200) throw new Error(`warm-up call answered ${String(answer)}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  for (let round = 0; round < inputs.trips; round++) {
    const pods = inputs.pods();
    const pod = pods[round % pods.length];
    if (pod === undefined) throw new Error('no running pod to trip');
    const url = podHttpUrl(pod);
    // A new trip is the latest one, so lastTripTime moves; the replica shows as open.
    const lastTripBefore = status()?.lastTripTime;
    const shown = inputs.policy.when(
      (items) => {
        const s = items[0]?.status;
        return s?.lastTripTime !== lastTripBefore && (s?.replicas?.open ?? 0) >= 1;
      },
      ROUND_TIMEOUT_MS,
      `trip ${String(round)} in the CircuitBreakerPolicy status`,
    );
    await inputs.sim.setFault({ status: 529 });
    const answers = await callUntilOpen(url);
    if (answers.at(-1) !== 503) {
      throw new Error(`trip ${String(round)}: the breaker did not open (${answers.join(',')})`);
    }
    const shownAt = await shown.catch((err: unknown) => {
      const now = inputs.pods().find((p) => p.metadata?.uid === pod.metadata?.uid);
      throw new Error(
        `${String(err)}; the pod answered ${answers.join(',')}, reports ` +
          `${JSON.stringify(now === undefined ? 'nothing (gone)' : podBreakers(now))}, ` +
          `the policy status is ${JSON.stringify(status())}`,
      );
    });
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
    while ((await sendMessage(url)) !== 200) {
      if (Date.now() > deadline) throw new Error(`trip ${String(round)}: the breaker never closed`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await closed;
  }
  return { ...summarize(samples), samples_ms: samples };
}

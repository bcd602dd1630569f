/**
 * Picks the backend for one provider attempt. Backends that cannot take it (breaker open, the
 * model not served, already failed by this request) are skipped; of the rest, only those of
 * the lowest priority are candidates, and the strategy chooses among them. So traffic moves to
 * the next priority at once when the first is out, and returns when it is back.
 */
import type { LoadBalancing } from '../../../contract/src/policy/policyDocument.ts';

export interface BalancedBackend {
  readonly name: string;
  readonly weight: number;
  /** Lower first. */
  readonly priority: number;
  /** Attempts running on it now (LeastLoaded). */
  readonly inFlight: number;
}

export interface BalancerState {
  /** RoundRobin cursor; advanced on every pick. */
  cursor: number;
}

export function chooseBackend<B extends BalancedBackend>(
  strategy: LoadBalancing,
  backends: readonly B[],
  usable: (backend: B) => boolean,
  state: BalancerState,
  random: () => number = Math.random,
): B | undefined {
  let candidates = backends.filter(usable);
  if (candidates.length === 0) return undefined;
  if (candidates.length > 1) {
    let first = Infinity;
    for (const b of candidates) if (b.priority < first) first = b.priority;
    if (candidates.some((b) => b.priority !== first))
      candidates = candidates.filter((b) => b.priority === first);
  }
  if (candidates.length === 1) return candidates[0];
  switch (strategy) {
    case 'RoundRobin': {
      const pick = candidates[state.cursor % candidates.length];
      state.cursor = (state.cursor + 1) % 1_000_000_007;
      return pick;
    }
    case 'LeastLoaded': {
      let best = candidates[0];
      for (const b of candidates) if (best === undefined || b.inFlight < best.inFlight) best = b;
      return best;
    }
    case 'Weighted': {
      const total = candidates.reduce((sum, b) => sum + Math.max(0, b.weight), 0);
      if (total <= 0) return candidates[Math.floor(random() * candidates.length)];
      let roll = random() * total;
      for (const b of candidates) {
        roll -= Math.max(0, b.weight);
        if (roll < 0) return b;
      }
      return candidates[candidates.length - 1];
    }
    case 'Random':
      return candidates[Math.floor(random() * candidates.length)];
  }
}

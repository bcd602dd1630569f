/**
 * Binds the runtime's ProviderGuard to the resilience guard in `runtime/src/guard/`.
 * (Interim: timeout only, while the guard's breaker, limiter and retry land.)
 */
import { CircuitOpenError, TimeoutError } from '../guard/errors.ts';
import type { PolicyDocument } from '../policy/policyDocument.ts';
import type { Clock } from '../time/clock.ts';
import type { Registry } from 'prom-client';
import type { Admission, ProviderGuard } from './providerGuard.ts';

const NO_ADMISSION: Admission = { settle: () => undefined, release: () => undefined };

export function bindGuard(
  doc: PolicyDocument,
  clock: Clock,
  _previous?: ProviderGuard,
): ProviderGuard {
  const withTimeout = async <T>(
    timeoutMs: number,
    signal: AbortSignal,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> => {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const cancel = clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new TimeoutError(timeoutMs));
    }, timeoutMs);
    try {
      return await fn(controller.signal);
    } catch (err) {
      if (timedOut) throw new TimeoutError(timeoutMs);
      throw err;
    } finally {
      cancel();
      signal.removeEventListener('abort', onAbort);
    }
  };
  return {
    admit: () => Promise.resolve(NO_ADMISSION),
    permits: () => true,
    async callModel(model, pickBackend, attempt, signal) {
      const backend = pickBackend();
      if (backend === undefined) throw new CircuitOpenError(`${model}`, 'Open', 1000);
      return withTimeout(doc.timeoutMs, signal, (s) =>
        attempt({ model, backend, attempt: 1, signal: s }),
      );
    },
    callTool: (_tool, timeoutMs, fn, signal) => withTimeout(timeoutMs, signal, fn),
    breakers: () => ({}),
    rateLimiter: () => ({}),
    breakerSummary: () => ({}),
    onBreakerChange: () => () => undefined,
  };
}

/** The guard's metric registries, served on /metrics next to the runtime's own. */
export function guardRegistries(): Registry[] {
  return [];
}

/**
 * Watching a call's cancellation for the length of one exchange without an event listener.
 *
 * Every provider-calling request makes one AbortController (server/routeCall.ts `beginCall`:
 * it aborts when the caller goes away), and every exchange under it listened to that signal
 * while it ran (provider/exchange.ts). On Node an AbortSignal's first listener builds its
 * event map, a listener record and a trip through the EventTarget machinery, and removing it
 * shrinks the map again: 1–2 µs of a call's CPU in the runtime (perf, on-CPU, at 13093d5f;
 * 250 ns for the controller and the listener in a hot loop, 50 with the slot), for a signal
 * that almost never fires. A controller made here keeps one watcher slot on its signal
 * instead; `watchAbort` takes the slot when it is free (the usual case: one exchange at a time
 * per call) and falls back to a listener otherwise, or for any other signal (the agent loop's,
 * a test's). The signal is still a real AbortSignal, aborted first:
 * its listeners (the guard's waits, the SDK) run as before, then the watcher.
 */

const WATCHER = Symbol('abortWatcher');

type Watcher = () => void;

/** A signal made by `watchableAbortController`: a slot for one watcher beside its listeners. */
type Slotted = AbortSignal & { [WATCHER]: Watcher | undefined };

function slotted(signal: AbortSignal): signal is Slotted {
  return WATCHER in signal;
}

/** An AbortController whose signal `watchAbort` can watch without a listener. */
export interface WatchableAbort {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
}

export function watchableAbortController(): WatchableAbort {
  const controller = new AbortController();
  const signal = controller.signal as Slotted;
  signal[WATCHER] = undefined;
  return {
    signal,
    abort(reason: unknown): void {
      if (signal.aborted) return;
      controller.abort(reason);
      const watcher = signal[WATCHER];
      signal[WATCHER] = undefined;
      watcher?.();
    },
  };
}

/**
 * Calls `watcher` once when `signal` aborts, until `unwatchAbort(signal, watcher)`. The caller
 * checks `signal.aborted` first: an aborted signal does not call it.
 */
export function watchAbort(signal: AbortSignal, watcher: Watcher): void {
  if (slotted(signal) && signal[WATCHER] === undefined) signal[WATCHER] = watcher;
  else signal.addEventListener('abort', watcher);
}

/** Stops watching: the slot freed if `watcher` holds it, its listener removed otherwise. */
export function unwatchAbort(signal: AbortSignal, watcher: Watcher): void {
  if (slotted(signal) && signal[WATCHER] === watcher) signal[WATCHER] = undefined;
  else signal.removeEventListener('abort', watcher);
}

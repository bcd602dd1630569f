/**
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP for the demo's commands: the first aborts what is running so
 * that the caller's `finally` stops everything it started; a second one leaves at once and
 * says how to finish the cleanup.
 */
/** Ctrl-C, `kill`, and a closed terminal. */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface Interrupts {
  readonly signal: AbortSignal;
  /** Stop listening (before a normal exit). */
  dispose(): void;
}

export function onInterrupt(say: (line: string) => void): Interrupts {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) {
      say(`\n${name}: stopping everything the demo started (again to leave it to \`make down\`)`);
      controller.abort(new Error(name));
      return;
    }
    say(`${name} again: leaving now; \`make down\` stops what is still running`);
    process.exit(130);
  };
  for (const name of SIGNALS) process.on(name, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of SIGNALS) process.off(name, handler);
    },
  };
}

/** Thrown where a wait notices the interrupt: the caller's `finally` stops what started. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new Interrupted();
}

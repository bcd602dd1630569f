/**
 * Calls waiting for a reservation held here to be settled or released: a busy budget's call
 * (BudgetCalls) asks again when one is, rather than only at its backoff.
 */
export class ReleaseWaiters {
  #waiters: (() => void)[] = [];

  /**
   * Resolves when a reservation held here is next settled or released, or when `cancel` is
   * called: a busy budget's call waits for it before asking again.
   */
  whenReleased(): { readonly released: Promise<void>; readonly cancel: () => void } {
    let wake: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#waiters.push(wake);
    return {
      released,
      cancel: () => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        wake();
      },
    };
  }

  /** A reservation was settled or released: every call waiting asks again. */
  released(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Shutdown bookkeeping, in two steps. On SIGTERM the runtime starts draining: readiness
 * fails so that endpoints, kube-proxy and ingresses stop sending, but requests that still
 * arrive are served, because those take seconds to notice. After the drain delay it refuses
 * new requests with 503, and the requests already admitted are counted down to zero.
 */
export class Lifecycle {
  #draining = false;
  #refusing = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];

  /** SIGTERM came: readiness fails; new requests are still served. */
  get draining(): boolean {
    return this.#draining;
  }

  /** The drain delay is over: new requests are refused. */
  get refusing(): boolean {
    return this.#refusing;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  startDraining(): void {
    this.#draining = true;
  }

  refuseNewRequests(): void {
    this.#draining = true;
    this.#refusing = true;
  }

  enter(): void {
    this.#inFlight++;
  }

  leave(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    if (this.#inFlight === 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

/**
 * Shutdown bookkeeping, in two steps. On SIGTERM the runtime starts draining: readiness
 * fails so that endpoints, kube-proxy and ingresses stop sending, but requests that still
 * arrive are served, because those take seconds to notice. After the drain delay it refuses
 * new requests with 503, and the requests already admitted are counted down to zero.
 *
 * Two counts hold the shutdown: the calls in flight (routeCall.ts, from a call's start to its
 * bookkeeping's end) and the counted requests open (requestCounts.ts, from the request's headers
 * to its response's close). A request whose body is still arriving when the drain delay ends is
 * thus answered (503, as any new one then) before the server closes, not dropped unanswered.
 */
export class Lifecycle {
  #draining = false;
  #refusing = false;
  #inFlight = 0;
  #open = 0;
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
    this.#settle();
  }

  /** A counted request's headers came: it holds the shutdown until its response closes. */
  opened(): void {
    this.#open++;
  }

  /** A counted request's response closed (answered, or its caller gone). */
  closed(): void {
    this.#open = Math.max(0, this.#open - 1);
    this.#settle();
  }

  /** Resolves when no call is in flight and no counted request is open. */
  idle(): Promise<void> {
    if (this.#inFlight === 0 && this.#open === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #settle(): void {
    if (this.#inFlight !== 0 || this.#open !== 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}

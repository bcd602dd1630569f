/**
 * Leader election on a coordination.k8s.io Lease, because @kubernetes/client-node has none.
 * Follows client-go's rules: a lease is expired when its record has not changed for
 * `leaseDurationMs` as seen by *this* process's clock (never comparing another machine's
 * timestamps with ours), writes are guarded by resourceVersion, and a leader that cannot
 * renew within `renewDeadlineMs` stops leading. A leader that shuts down releases the lease
 * so a standby takes over at once instead of waiting for expiry; when the API server does not
 * answer within `releaseTimeoutMs` it leaves the lease to expire, as a crashed leader would.
 */
import { systemClock, type Clock } from '../../../platform/src/time/clock.ts';
import { WakeableSleep } from '../../../platform/src/time/wakeableSleep.ts';
import { isConflict, type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** @default 10000 — a crashed leader is replaced within this plus one retry period. */
  readonly leaseDurationMs?: number;
  /** @default 7000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  /** How long `stop()` tries to release a held lease. @default 2000 */
  readonly releaseTimeoutMs?: number;
  readonly clock?: Clock;
  readonly onError?: (error: unknown) => void;
}

/** What `stop()` did with the lease. */
export type LeaseRelease = 'released' | 'notHeld' | 'failed' | 'timedOut';

export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, 'onError'>> &
    Pick<LeaderElectionOptions, 'onError'>;
  #observedRecord = '';
  #observedAt = 0;
  #leading = false;
  #stopped = false;
  readonly #pause: WakeableSleep;

  constructor(options: LeaderElectionOptions) {
    this.#o = {
      leaseDurationMs: 10_000,
      renewDeadlineMs: 7_000,
      retryPeriodMs: 2_000,
      releaseTimeoutMs: 2_000,
      clock: systemClock,
      ...options,
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new RangeError('renewDeadlineMs must be shorter than leaseDurationMs');
    }
    this.#pause = new WakeableSleep(this.#o.clock);
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Waits until this process holds the lease, then calls `lead` with a signal that aborts when
   * leadership is lost. Resolves when leadership ends (lost or `stop()`ped).
   */
  async run(lead: (lost: AbortSignal) => Promise<void> | void): Promise<void> {
    while (!this.#isStopped() && !(await this.#tryAcquireOrRenew())) {
      await this.#pause.sleep(this.#o.retryPeriodMs);
    }
    if (this.#isStopped()) return;
    const lost = new AbortController();
    const leading = Promise.resolve(lead(lost.signal));
    let lastRenew = this.#o.clock.now();
    while (!this.#isStopped()) {
      await this.#pause.sleep(this.#o.retryPeriodMs);
      if (this.#isStopped()) break;
      if (await this.#tryAcquireOrRenew()) {
        lastRenew = this.#o.clock.now();
      } else if (this.#o.clock.now() - lastRenew >= this.#o.renewDeadlineMs || !this.#leading) {
        break;
      }
    }
    this.#leading = false;
    lost.abort();
    await leading;
  }

  /**
   * Stops electing; a held lease is released so a standby can take over immediately. Resolves
   * within `releaseTimeoutMs` whatever the API server does.
   */
  async stop(): Promise<LeaseRelease> {
    this.#stopped = true;
    this.#pause.wake();
    if (!this.#leading) return 'notHeld';
    this.#leading = false;
    return new Promise((resolve) => {
      const cancel = this.#o.clock.setTimeout(() => {
        resolve('timedOut');
      }, this.#o.releaseTimeoutMs);
      void this.#release().then((outcome) => {
        cancel();
        resolve(outcome);
      });
    });
  }

  async #release(): Promise<LeaseRelease> {
    try {
      const lease = await this.#o.client.get<Lease>(Kinds.Lease, this.#o.namespace, this.#o.name);
      if (lease?.spec?.holderIdentity !== this.#o.identity) return 'notHeld';
      await this.#o.client.patch(
        Kinds.Lease,
        this.#o.namespace,
        this.#o.name,
        {
          metadata: { resourceVersion: lease.metadata?.resourceVersion },
          spec: {
            holderIdentity: null,
            leaseDurationSeconds: 1,
            renewTime: isoMicros(this.#o.clock.now()),
          },
        },
        'merge',
      );
      return 'released';
    } catch (err) {
      this.#o.onError?.(err);
      return 'failed';
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity, clock } = this.#o;
    const now = clock.now();
    const nowIso = isoMicros(now);
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    try {
      const lease = await client.get<Lease>(Kinds.Lease, namespace, name);
      // Stopped while the read was in flight: the lease may be released already.
      if (this.#isStopped()) return false;
      if (lease === undefined) {
        await client.create(Kinds.Lease, {
          apiVersion: Kinds.Lease.apiVersion,
          kind: Kinds.Lease.kind,
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: nowIso,
            renewTime: nowIso,
            leaseTransitions: 0,
          },
        } satisfies Lease);
        this.#observe(`${identity}@${nowIso}`, now);
        this.#leading = true;
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const record = `${holder}@${spec.renewTime ?? ''}`;
      if (record !== this.#observedRecord) this.#observe(record, now);
      const heldByOther = holder !== '' && holder !== identity;
      const expired =
        now - this.#observedAt >= (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && !expired) {
        this.#leading = false;
        return false;
      }
      const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
      await client.patch(
        Kinds.Lease,
        namespace,
        name,
        {
          metadata: { resourceVersion: lease.metadata?.resourceVersion },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: holder === identity ? spec.acquireTime : nowIso,
            renewTime: nowIso,
            leaseTransitions: transitions,
          },
        },
        'merge',
      );
      this.#observe(`${identity}@${nowIso}`, now);
      this.#leading = true;
      return true;
    } catch (err) {
      // A conflict means someone else wrote first: not an error, just not us this round.
      if (!isConflict(err)) this.#o.onError?.(err);
      return false;
    }
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isStopped(): boolean {
    return this.#stopped;
  }

  #observe(record: string, at: number): void {
    this.#observedRecord = record;
    this.#observedAt = at;
  }
}

/** Lease times are MicroTime: RFC 3339 with microseconds. */
function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

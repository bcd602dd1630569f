/**
 * The controller over the API boundary in memory, for its unit tests: what they start, how they
 * wait for it to settle, and how they read what it wrote.
 */
import { pino } from 'pino';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type {
  KubeClient,
  ListResult,
  WatchEvent,
  WatchEventType,
} from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../../platform/src/kube/resourceKinds.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { Controller } from './controller.ts';

type Listener = (event: WatchEvent<KubeObject>) => void;

/**
 * The API boundary in memory: lists what a test put there, hands each watch the events a test
 * emits, and records every write. Enough to see what the controller queues and sends.
 */
export class MemoryApi implements Pick<
  KubeClient,
  'list' | 'watch' | 'apply' | 'applyStatus' | 'delete' | 'get' | 'create'
> {
  readonly objects = new Map<string, KubeObject[]>();
  readonly calls: string[] = [];
  /** Every status written, in order. */
  readonly statuses: KubeObject[] = [];
  /** Every object applied, in order. */
  readonly applied: KubeObject[] = [];
  /** While set, applies wait until a test calls `releaseApplies()`. */
  holdApplies = false;
  readonly #held: (() => void)[] = [];
  readonly #listeners = new Map<string, Set<Listener>>();
  #rv = 100;

  releaseApplies(): void {
    for (const release of this.#held.splice(0)) release();
  }

  put(kind: ResourceKind, obj: KubeObject): void {
    this.objects.set(kind.kind, [...(this.objects.get(kind.kind) ?? []), obj]);
  }

  emit(kind: ResourceKind, type: WatchEventType, obj: KubeObject & Record<string, unknown>): void {
    const object = {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) },
    };
    for (const listener of this.#listeners.get(kind.kind) ?? []) listener({ type, object });
  }

  list<T extends KubeObject>(kind: ResourceKind): Promise<ListResult<T>> {
    return Promise.resolve({
      items: (this.objects.get(kind.kind) ?? []) as T[],
      resourceVersion: '1',
    });
  }

  watch<T extends KubeObject>(
    kind: ResourceKind,
    _options: unknown,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const listener = onEvent as Listener;
    const set = this.#listeners.get(kind.kind) ?? new Set<Listener>();
    this.#listeners.set(kind.kind, set);
    set.add(listener);
    return new Promise((resolve) => {
      signal.addEventListener('abort', () => {
        set.delete(listener);
        resolve();
      });
    });
  }

  apply<T extends KubeObject>(obj: T): Promise<T> {
    this.calls.push(`apply ${obj.kind ?? ''}`);
    this.applied.push(obj);
    if (!this.holdApplies) return Promise.resolve(obj);
    return new Promise((resolve) => {
      this.#held.push(() => {
        resolve(obj);
      });
    });
  }

  applyStatus<T extends KubeObject>(obj: T): Promise<T> {
    this.calls.push(`status ${obj.kind ?? ''}`);
    this.statuses.push(obj);
    return Promise.resolve(obj);
  }

  delete(kind: ResourceKind, _namespace: string | undefined, name: string): Promise<boolean> {
    this.calls.push(`delete ${kind.kind} ${name}`);
    return Promise.resolve(false);
  }

  /** Every Event recorded, in order (the only object the operator creates). */
  readonly events: (KubeObject & { type?: string; reason?: string; message?: string })[] = [];

  create<T extends KubeObject>(_kind: ResourceKind, obj: T): Promise<T> {
    this.events.push(obj);
    return Promise.resolve(obj);
  }

  get<T extends KubeObject>(): Promise<T | undefined> {
    return Promise.resolve(undefined);
  }

  take(): string[] {
    return this.calls.splice(0);
  }
}

export const AgentKind = Kinds.AgentDeployment;

const running: Controller[] = [];

/** Stops every controller `started` started (each test file calls it after each test). */
export async function stopStarted(): Promise<void> {
  await Promise.all(running.splice(0).map((c) => c.stop()));
}

export async function started(
  agent: AgentDeployment,
  clock = new ManualClock(),
  api = new MemoryApi(),
): Promise<{ api: MemoryApi; controller: Controller }> {
  api.put(AgentKind, agent);
  const controller = new Controller({
    client: api as unknown as KubeClient,
    log: pino({ level: 'silent' }),
    options: { runtimeImage: 'img', namespace: undefined },
    clock,
  });
  running.push(controller);
  await controller.start();
  if (!api.holdApplies) await settle(controller);
  return { api, controller };
}

/** Lets pending callbacks run, for a test that holds requests and cannot wait for idle. */
export async function turns(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Lets events turn into queued keys and the queues drain. */
export async function settle(controller: Controller): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    await controller.idle();
  }
}

export function lastCondition(
  written: readonly KubeObject[],
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return (written.at(-1) as AgentDeployment | undefined)?.status?.conditions?.find(
    (c) => c.type === type,
  );
}

export function lastResolved(
  written: readonly KubeObject[],
): { status: string; message: string } | undefined {
  const condition = (written.at(-1) as AgentDeployment | undefined)?.status?.conditions?.find(
    (c) => c.type === 'PoliciesResolved',
  );
  return condition === undefined
    ? undefined
    : { status: condition.status, message: condition.message };
}

/** The applies sent since the last look, in order. */
export function applies(api: MemoryApi): string[] {
  return api.take().filter((c) => c.startsWith('apply'));
}

export async function reconcileCount(controller: Controller): Promise<number> {
  const metric = await controller.ctx.metrics.reconciles.get();
  return metric.values
    .filter((v) => v.labels['kind'] === 'AgentDeployment')
    .reduce((sum, v) => sum + v.value, 0);
}

import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { Informer, type RestartReason } from './informer.ts';
import {
  KubeApiError,
  type KubeClient,
  type ListOptions,
  type ListResult,
  type WatchEvent,
  type WatchOptions,
} from './kubeClient.ts';
import type { KubeObject } from './kubeObject.ts';
import { Kinds } from './resourceKinds.ts';

const cm = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

type WatchScript = (
  options: WatchOptions,
  emit: (event: WatchEvent<KubeObject>) => void,
  signal: AbortSignal,
) => Promise<void>;

/** A list the server never answers: it ends only when its caller aborts it. */
const UNANSWERED = 'unanswered';

/** A scripted stand-in for the API boundary: each list and watch call takes the next step. */
class ScriptedClient implements Pick<KubeClient, 'list' | 'watch'> {
  lists: (ListResult<KubeObject> | typeof UNANSWERED)[] = [];
  watches: WatchScript[] = [];
  listCalls = 0;
  watchCalls: WatchOptions[] = [];

  list<T extends KubeObject>(_kind: unknown, options?: ListOptions): Promise<ListResult<T>> {
    this.listCalls++;
    const next = this.lists.shift();
    if (next === undefined) return Promise.reject(new Error('unexpected list'));
    if (next === UNANSWERED) {
      return new Promise((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => {
          reject(new Error('aborted'));
        });
      });
    }
    return Promise.resolve(next as ListResult<T>);
  }

  watch<T extends KubeObject>(
    _kind: unknown,
    options: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.watchCalls.push(options);
    const next = this.watches.shift() ?? hangUntilAborted;
    return next(options, onEvent as (e: WatchEvent<KubeObject>) => void, signal);
  }
}

const hangUntilAborted: WatchScript = (_o, _e, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => {
      resolve();
    });
  });

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function setup(configure: (client: ScriptedClient) => void) {
  const client = new ScriptedClient();
  configure(client);
  const clock = new ManualClock();
  const restarts: RestartReason[] = [];
  const informer = new Informer<KubeObject>({
    client: client as unknown as KubeClient,
    kind: Kinds.ConfigMap,
    clock,
    watchTimeoutSeconds: 10,
    watchdogMs: 30_000,
    random: () => 0.5,
    onRestart: (reason) => restarts.push(reason),
  });
  const events: string[] = [];
  informer.on({
    added: (o) => events.push(`added ${o.metadata?.name ?? ''}`),
    updated: (o) =>
      events.push(`updated ${o.metadata?.name ?? ''}@${o.metadata?.resourceVersion ?? ''}`),
    deleted: (o) => events.push(`deleted ${o.metadata?.name ?? ''}`),
  });
  return { client, clock, informer, restarts, events };
}

describe('Informer', () => {
  it('fills the cache from the first list and applies watch events on top', async () => {
    const { informer, events } = setup((c) => {
      c.lists.push({ items: [cm('a', '1')], resourceVersion: '5' });
      c.watches.push(async (_o, emit, signal) => {
        emit({ type: 'ADDED', object: cm('b', '6') });
        emit({ type: 'MODIFIED', object: cm('a', '7') });
        emit({ type: 'DELETED', object: cm('b', '8') });
        await hangUntilAborted(_o, emit, signal);
      });
    });
    await informer.start();
    await flush();
    expect(events).toEqual(['added a', 'added b', 'updated a@7', 'deleted b']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a']);
    await informer.stop();
  });

  it('resumes a cleanly ended watch from the last resourceVersion without listing again', async () => {
    const { client, informer, restarts } = setup((c) => {
      c.lists.push({ items: [], resourceVersion: '5' });
      c.watches.push((_o, emit) => {
        emit({ type: 'BOOKMARK', object: cm('', '9') });
        return Promise.resolve();
      });
    });
    await informer.start();
    await flush();
    expect(client.listCalls).toBe(1);
    expect(client.watchCalls.map((w) => w.resourceVersion)).toEqual(['5', '9']);
    expect(restarts).toEqual(['ended']);
    await informer.stop();
  });

  it('lists again when the server answers 410 Gone, and reports deletions it missed', async () => {
    const { client, informer, restarts, events } = setup((c) => {
      c.lists.push({ items: [cm('a', '1'), cm('b', '2')], resourceVersion: '5' });
      c.lists.push({ items: [cm('a', '1')], resourceVersion: '20' });
      c.watches.push(() =>
        Promise.reject(new KubeApiError(410, 'Expired', 'too old resource version')),
      );
    });
    await informer.start();
    await flush();
    expect(client.listCalls).toBe(2);
    expect(restarts).toEqual(['gone']);
    expect(events).toEqual(['added a', 'added b', 'deleted b']);
    expect(client.watchCalls.at(-1)?.resourceVersion).toBe('20');
    await informer.stop();
  });

  it('backs off after an error and keeps going instead of stopping', async () => {
    const { client, clock, informer, restarts } = setup((c) => {
      c.lists.push({ items: [], resourceVersion: '5' });
      c.watches.push(() => Promise.reject(new KubeApiError(500, 'InternalError', 'boom')));
    });
    await informer.start();
    await flush();
    expect(restarts).toEqual(['error']);
    expect(client.watchCalls).toHaveLength(1);
    clock.advance(1_000);
    await flush();
    expect(client.watchCalls).toHaveLength(2);
    await informer.stop();
  });

  it('restarts a watch that went silent past the watchdog, listing again', async () => {
    const { client, clock, informer, restarts } = setup((c) => {
      c.lists.push({ items: [], resourceVersion: '5' });
      c.lists.push({ items: [cm('late', '30')], resourceVersion: '30' });
    });
    await informer.start();
    await flush();
    clock.advance(29_999);
    await flush();
    expect(restarts).toEqual([]);
    clock.advance(1);
    await flush();
    expect(restarts).toEqual(['stalled']);
    clock.advance(1_000);
    await flush();
    expect(client.listCalls).toBe(2);
    expect(informer.get('ns/late')).toBeDefined();
    await informer.stop();
  });

  it('caches and hands to handlers what the transform keeps, from lists and from watches', async () => {
    const client = new ScriptedClient();
    const withData = (name: string, rv: string): KubeObject & { data?: unknown } => ({
      ...cm(name, rv),
      data: { big: 'x'.repeat(100) },
    });
    client.lists.push({ items: [withData('a', '1')], resourceVersion: '1' });
    client.watches.push(async (_o, emit, signal) => {
      emit({ type: 'ADDED', object: withData('b', '2') });
      await hangUntilAborted(_o, emit, signal);
    });
    const informer = new Informer<KubeObject & { data?: unknown }>({
      client: client as unknown as KubeClient,
      kind: Kinds.ConfigMap,
      clock: new ManualClock(),
      transform: ({ data: _dropped, ...rest }) => rest,
    });
    const handed: unknown[] = [];
    informer.on({ added: (o) => handed.push(o.data) });
    await informer.start();
    await flush();
    expect(informer.list().map((o) => [o.metadata?.name, o.data])).toEqual([
      ['a', undefined],
      ['b', undefined],
    ]);
    expect(handed).toEqual([undefined, undefined]);
    await informer.stop();
  });

  it('keeps its index by a label right through adds, relabels, deletes and a 410 re-list', async () => {
    const labelled = (name: string, rv: string, app?: string): KubeObject => ({
      metadata: {
        name,
        namespace: 'ns',
        resourceVersion: rv,
        ...(app === undefined ? {} : { labels: { app } }),
      },
    });
    const client = new ScriptedClient();
    client.lists.push({
      items: [labelled('a', '1', 'x'), labelled('b', '1', 'x'), labelled('c', '1')],
      resourceVersion: '1',
    });
    client.watches.push(async (_o, emit) => {
      emit({ type: 'MODIFIED', object: labelled('b', '2', 'y') }); // relabelled
      emit({ type: 'ADDED', object: labelled('d', '3', 'y') });
      emit({ type: 'DELETED', object: labelled('a', '4', 'x') });
      await Promise.resolve();
      throw new KubeApiError(410, 'Expired', 'too old');
    });
    // The re-list no longer has d: it was deleted while the watch was down.
    client.lists.push({
      items: [labelled('b', '2', 'y'), labelled('c', '5', 'x')],
      resourceVersion: '6',
    });
    client.watches.push(hangUntilAborted);
    const informer = new Informer<KubeObject>({
      client: client as unknown as KubeClient,
      kind: Kinds.ConfigMap,
      clock: new ManualClock(),
      random: () => 0,
      indexBy: (o) => o.metadata?.labels?.app,
    });
    const names = (value: string) =>
      informer
        .byIndex(value)
        .map((o) => o.metadata?.name)
        .sort();
    await informer.start();
    expect(names('x')).toEqual(['a', 'b']);
    for (let i = 0; i < 20 && client.listCalls < 2; i++) await flush();
    await flush();
    expect(client.listCalls).toBe(2);
    expect(names('x')).toEqual(['c']);
    expect(names('y')).toEqual(['b']);
    expect(names('none')).toEqual([]);
    await informer.stop();
  });

  it('stops at once while a list waits for an answer that never comes', async () => {
    const { client, informer } = setup((c) => {
      c.lists.push(UNANSWERED);
    });
    void informer.start();
    await flush();
    expect(client.listCalls).toBe(1);
    let stopped = false;
    void informer.stop().then(() => (stopped = true));
    await flush();
    expect(stopped).toBe(true);
    expect(client.listCalls).toBe(1);
  });

  it('keeps delivering to other handlers when one throws', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const client = new ScriptedClient();
    client.lists.push({ items: [cm('a', '1')], resourceVersion: '1' });
    const informer = new Informer<KubeObject>({
      client: client as unknown as KubeClient,
      kind: Kinds.ConfigMap,
      clock: new ManualClock(),
      onHandlerError: (e) => errors.push(e),
    });
    informer.on({
      added: () => {
        throw new Error('handler bug');
      },
    });
    informer.on({ added: (o) => seen.push(o.metadata?.name ?? '') });
    await informer.start();
    expect(seen).toEqual(['a']);
    expect(errors).toHaveLength(1);
    await informer.stop();
  });
});

import { describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { silentLogger } from './log.ts';
import { PodManager } from './podManager.ts';
import type { Pod } from './podTypes.ts';
import type { PodRunner, TerminateOptions } from './podWorker.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

class FakeRunner implements PodRunner {
  readonly uid: string;
  readonly gracePeriodMs = 30_000;
  started = false;
  updates = 0;
  terminations: TerminateOptions[] = [];

  constructor(uid: string) {
    this.uid = uid;
  }

  start(): void {
    this.started = true;
  }

  update(): void {
    this.updates++;
  }

  terminate(options: TerminateOptions): Promise<void> {
    this.terminations.push(options);
    return Promise.resolve();
  }
}

function pod(name: string, uid: string, extra: Partial<Pod['metadata']> = {}, phase?: string): Pod {
  return {
    metadata: { name, namespace: 'ns', uid, ...extra },
    spec: { nodeName: 'local-node', terminationGracePeriodSeconds: 7, containers: [] },
    ...(phase === undefined ? {} : { status: { phase: phase as 'Succeeded' } }),
  };
}

function rig(existing: Pod[] = []) {
  const runners: FakeRunner[] = [];
  const deleted: string[] = [];
  const client: Pick<KubeClient, 'get' | 'delete'> = {
    get: <T>(_kind: unknown, _ns: string | undefined, name: string) =>
      Promise.resolve(existing.find((p) => p.metadata.name === name) as T | undefined),
    delete: (_kind, _ns, name) => {
      deleted.push(name);
      return Promise.resolve(true);
    },
  };
  const manager = new PodManager({
    nodeName: 'local-node',
    client,
    log: silentLogger,
    createWorker: (p) => {
      const runner = new FakeRunner(p.metadata.uid ?? '');
      runners.push(runner);
      return runner;
    },
  });
  return { manager, runners, deleted };
}

describe('PodManager', () => {
  it('starts one worker per pod and hands it later versions', () => {
    const r = rig();
    r.manager.sync(pod('a', 'u1'));
    r.manager.sync(pod('a', 'u1'));
    expect(r.runners).toHaveLength(1);
    expect(r.runners[0]).toMatchObject({ started: true, updates: 1 });
  });

  it('stops a deleted pod within its grace period and then deletes the object', () => {
    const r = rig();
    r.manager.sync(pod('a', 'u1'));
    r.manager.sync(
      pod('a', 'u1', { deletionTimestamp: '2026-01-01T00:00:00Z', deletionGracePeriodSeconds: 5 }),
    );
    expect(r.runners[0]?.terminations).toEqual([{ graceMs: 5_000, deleteObject: true }]);
  });

  it('stops a force-deleted pod without deleting anything', () => {
    const r = rig();
    r.manager.sync(pod('a', 'u1'));
    r.manager.gone(pod('a', 'u1'));
    expect(r.runners[0]?.terminations).toEqual([{ graceMs: 7_000, deleteObject: false }]);
  });

  it('retires the old worker when a new pod takes the same name', () => {
    const r = rig();
    r.manager.sync(pod('a', 'u1'));
    r.manager.sync(pod('a', 'u2'));
    expect(r.runners.map((w) => w.uid)).toEqual(['u1', 'u2']);
    expect(r.runners[0]?.terminations).toEqual([{ graceMs: 0, deleteObject: false }]);
  });

  it('does not run a pod that already finished', () => {
    const r = rig();
    r.manager.sync(pod('done', 'u1', {}, 'Succeeded'));
    expect(r.runners).toHaveLength(0);
  });

  it('deletes a deleted pod it never ran, if it is still the same object', async () => {
    const stale = pod('old', 'u1', { deletionTimestamp: '2026-01-01T00:00:00Z' });
    const r = rig([stale]);
    r.manager.sync(stale);
    await flush();
    expect(r.deleted).toEqual(['old']);
    expect(r.runners).toHaveLength(0);
  });

  it('stops every pod on shutdown, capping their grace, and starts no new ones', async () => {
    const r = rig();
    r.manager.sync(pod('a', 'u1'));
    r.manager.sync(pod('b', 'u2'));
    await r.manager.shutdown(10_000);
    r.manager.sync(pod('c', 'u3'));
    expect(r.runners.map((w) => w.terminations)).toEqual([
      [{ graceMs: 10_000, deleteObject: false }],
      [{ graceMs: 10_000, deleteObject: false }],
    ]);
  });
});

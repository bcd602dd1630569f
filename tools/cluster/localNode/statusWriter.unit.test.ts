import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { KubeApiError, type ApplyOptions } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { silentLogger } from './log.ts';
import type { PodStatus } from './podTypes.ts';
import { PodStatusWriter } from './statusWriter.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

interface Call {
  readonly obj: KubeObject & { status: PodStatus };
  readonly options: ApplyOptions;
  readonly settle: (err?: Error) => void;
}

function rig() {
  const clock = new ManualClock();
  const calls: Call[] = [];
  let phase: PodStatus['phase'] = 'Pending';
  let gone = false;
  const writer = new PodStatusWriter({
    client: {
      applyStatus: <T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T> =>
        new Promise<T>((resolve, reject) => {
          calls.push({
            obj: obj as unknown as Call['obj'],
            options,
            settle: (err) => {
              if (err === undefined) resolve(obj);
              else reject(err);
            },
          });
        }),
    },
    clock,
    log: silentLogger,
    namespace: 'ns',
    name: 'pod',
    initial: undefined,
    build: () => ({ phase }),
    onGone: () => {
      gone = true;
    },
  });
  return {
    writer,
    calls,
    setPhase: (p: PodStatus['phase']) => {
      phase = p;
    },
    isGone: () => gone,
    advance: async (ms: number) => {
      clock.advance(ms);
      await flush();
    },
  };
}

describe('PodStatusWriter', () => {
  it('applies the status subresource as field manager local-node', async () => {
    const r = rig();
    r.writer.request();
    await r.advance(0);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]?.obj).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'pod', namespace: 'ns' },
      status: { phase: 'Pending' },
    });
    expect(r.calls[0]?.options).toEqual({ fieldManager: 'local-node', force: true });
  });

  it('folds every change made during a write into one more write with the latest status', async () => {
    const r = rig();
    r.writer.request();
    await r.advance(0);
    r.setPhase('Running');
    r.writer.request();
    r.writer.request();
    r.writer.request();
    await r.advance(0);
    expect(r.calls).toHaveLength(1);
    r.calls[0]?.settle();
    await r.advance(0);
    expect(r.calls.map((c) => c.obj.status.phase)).toEqual(['Pending', 'Running']);
  });

  it('sends nothing when the status did not change', async () => {
    const r = rig();
    r.writer.request();
    await r.advance(0);
    r.calls[0]?.settle();
    await flush();
    r.writer.request();
    await r.advance(0);
    expect(r.calls).toHaveLength(1);
  });

  it('retries a failed write', async () => {
    const r = rig();
    r.writer.request();
    await r.advance(0);
    r.calls[0]?.settle(new KubeApiError(500, 'InternalError', 'etcd is slow'));
    await flush();
    await r.advance(10_000);
    expect(r.calls).toHaveLength(2);
  });

  it('stops when the pod no longer exists', async () => {
    const r = rig();
    r.writer.request();
    await r.advance(0);
    r.calls[0]?.settle(new KubeApiError(404, 'NotFound', 'pods "pod" not found'));
    await flush();
    r.setPhase('Running');
    r.writer.request();
    await r.advance(60_000);
    expect(r.calls).toHaveLength(1);
    expect(r.isGone()).toBe(true);
  });

  it('flush() waits until the latest status is written', async () => {
    const r = rig();
    r.writer.request();
    const flushed = r.writer.flush();
    await flush();
    r.calls[0]?.settle();
    await flushed;
    expect(r.calls).toHaveLength(1);
  });
});

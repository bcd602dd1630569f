import { describe, expect, it } from '@jest/globals';
import { buildNodeStatus, microTime } from './nodeRegistration.ts';

const options = { nodeName: 'local-node', address: '127.0.0.1', kubeletVersion: 'v1.36.3' };
const t0 = Date.parse('2026-01-01T00:00:00Z');

describe('buildNodeStatus', () => {
  it('reports Ready, no pressure, the loopback address and room for 110 pods', () => {
    const status = buildNodeStatus(options, t0, undefined);
    expect(status.conditions.map((c) => `${c.type}=${c.status}`)).toEqual([
      'MemoryPressure=False',
      'DiskPressure=False',
      'PIDPressure=False',
      'Ready=True',
    ]);
    expect(status.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
    expect(status.allocatable).toMatchObject({ pods: '110' });
    expect(status.nodeInfo).toMatchObject({ kubeletVersion: 'v1.36.3', operatingSystem: 'linux' });
  });

  it('moves the heartbeat but keeps the transition time of an unchanged condition', () => {
    const first = buildNodeStatus(options, t0, undefined);
    const next = buildNodeStatus(options, t0 + 60_000, first.conditions);
    const ready = next.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      lastHeartbeatTime: '2026-01-01T00:01:00Z',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });
});

describe('microTime', () => {
  it('writes six fractional digits, as metav1.MicroTime parses them', () => {
    expect(microTime(t0 + 123)).toBe('2026-01-01T00:00:00.123000Z');
  });
});

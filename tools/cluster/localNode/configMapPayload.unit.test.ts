import { describe, expect, it } from '@jest/globals';
import { configMapPayload } from './configMapPayload.ts';

const configMap = {
  metadata: { name: 'prompts' },
  data: { 'system.txt': 'Be brief.' },
  binaryData: { 'logo.bin': Buffer.from([0, 1, 2]).toString('base64') },
};

describe('configMapPayload', () => {
  it('writes text and binary keys, 0644 unless the volume says otherwise', () => {
    const result = configMapPayload('v', { name: 'prompts' }, configMap);
    expect(result).toEqual({
      ok: true,
      payload: new Map([
        ['system.txt', { content: Buffer.from('Be brief.'), mode: 0o644 }],
        ['logo.bin', { content: Buffer.from([0, 1, 2]), mode: 0o644 }],
      ]),
    });
  });

  it('maps items to their paths and fails on a missing key, as kubelet does', () => {
    expect(
      configMapPayload(
        'v',
        { name: 'prompts', items: [{ key: 'system.txt', path: 'p/s.txt', mode: 0o400 }] },
        configMap,
      ),
    ).toEqual({
      ok: true,
      payload: new Map([['p/s.txt', { content: Buffer.from('Be brief.'), mode: 0o400 }]]),
    });
    expect(
      configMapPayload('v', { name: 'prompts', items: [{ key: 'nope', path: 'n' }] }, configMap),
    ).toEqual({
      ok: false,
      message:
        'MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: nope',
    });
  });

  it('leaves an optional volume empty and fails a required one when the ConfigMap is missing', () => {
    expect(configMapPayload('v', { name: 'gone', optional: true }, undefined)).toEqual({
      ok: true,
      payload: new Map(),
    });
    expect(configMapPayload('v', { name: 'gone' }, undefined)).toEqual({
      ok: false,
      message: 'MountVolume.SetUp failed for volume "v" : configmap "gone" not found',
    });
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Secret } from './podTypes.ts';
import { secretPayload, writeVolume, type VolumePayload } from './secretVolumes.ts';

const dirs: string[] = [];
const volumeDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'local-node-volume-'));
  dirs.push(dir);
  return join(dir, 'client-keys');
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const base64 = (text: string): string => Buffer.from(text).toString('base64');
const secret = (data: Record<string, string>): Secret => ({
  metadata: { name: 'keys' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64(v)])),
});
const files = (payload: VolumePayload): Record<string, string> =>
  Object.fromEntries([...payload].map(([path, file]) => [path, file.content.toString()]));
const payloadOf = (data: Record<string, string>): VolumePayload => {
  const built = secretPayload('client-keys', { secretName: 'keys' }, secret(data));
  if (!built.ok) throw new Error(built.message);
  return built.payload;
};

describe('secretPayload', () => {
  it('writes one file per key, decoded, with kubelet’s default mode', () => {
    const built = secretPayload('v', { secretName: 'keys' }, secret({ a: 'key-a', b: 'key-b' }));
    expect(built.ok && files(built.payload)).toEqual({ a: 'key-a', b: 'key-b' });
    expect(built.ok && built.payload.get('a')?.mode).toBe(0o644);
  });

  it('writes only the listed items, at their paths and modes', () => {
    const built = secretPayload(
      'v',
      { secretName: 'keys', items: [{ key: 'a', path: 'nested/first', mode: 0o400 }] },
      secret({ a: 'key-a', b: 'key-b' }),
    );
    expect(built.ok && files(built.payload)).toEqual({ 'nested/first': 'key-a' });
    expect(built.ok && built.payload.get('nested/first')?.mode).toBe(0o400);
  });

  it.each([
    [
      'fails a required volume whose Secret is missing, as FailedMount says it',
      { secretName: 'keys' },
      undefined,
      { ok: false, message: 'MountVolume.SetUp failed for volume "v" : secret "keys" not found' },
    ],
    [
      'leaves an optional volume empty while its Secret is missing',
      { secretName: 'keys', optional: true },
      undefined,
      { ok: true, payload: new Map() },
    ],
    [
      'fails a required volume that lists a key the Secret lacks',
      { secretName: 'keys', items: [{ key: 'gone', path: 'gone' }] },
      secret({ a: 'key-a' }),
      {
        ok: false,
        message:
          'MountVolume.SetUp failed for volume "v" : references non-existent secret key: gone',
      },
    ],
  ])('%s', (_name, source, found, expected) => {
    expect(secretPayload('v', source, found)).toEqual(expected);
  });
});

describe('writeVolume', () => {
  it('lays the files out as kubelet does: a timestamped directory behind ..data, keys as links', async () => {
    const dir = volumeDir();
    expect(
      await writeVolume(dir, payloadOf({ a: 'key-a' }), Date.UTC(2026, 10, 22, 16, 35, 38)),
    ).toBe(true);
    const data = readlinkSync(join(dir, '..data'));
    expect(data).toMatch(/^\.\.2026_11_22_16_35_38\./);
    expect(readlinkSync(join(dir, 'a'))).toBe('..data/a');
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('key-a');
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o644);
  });

  it('leaves an unchanged volume untouched', async () => {
    const dir = volumeDir();
    await writeVolume(dir, payloadOf({ a: 'key-a' }), 0);
    const before = readlinkSync(join(dir, '..data'));
    expect(await writeVolume(dir, payloadOf({ a: 'key-a' }), 1000)).toBe(false);
    expect(readlinkSync(join(dir, '..data'))).toBe(before);
  });

  it('swaps in a rotated Secret whole: new keys appear, removed ones go, the old version with them', async () => {
    const dir = volumeDir();
    await writeVolume(dir, payloadOf({ a: 'key-a', b: 'key-b' }), 0);
    const first = readlinkSync(join(dir, '..data'));
    expect(await writeVolume(dir, payloadOf({ b: 'key-b2', c: 'key-c' }), 1000)).toBe(true);
    expect(
      readdirSync(dir)
        .filter((name) => !name.startsWith('..'))
        .sort(),
    ).toEqual(['b', 'c']);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('key-b2');
    expect(readdirSync(dir)).not.toContain(first);
  });

  it('empties a volume whose optional Secret went away', async () => {
    const dir = volumeDir();
    await writeVolume(dir, payloadOf({ a: 'key-a' }), 0);
    expect(await writeVolume(dir, new Map(), 1000)).toBe(true);
    expect(readdirSync(dir).filter((name) => !name.startsWith('..'))).toEqual([]);
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../telemetry/logger.ts';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { ClientKeyDirectory, readKeyDirectory } from './clientKeyFiles.ts';
import { ClientKeys } from './clientKeys.ts';

const roots: string[] = [];
const directories: ClientKeyDirectory[] = [];

afterEach(() => {
  for (const directory of directories.splice(0)) directory.stop();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A Secret volume as the kubelet lays it out: files in a versioned directory behind `..data`. */
function secretVolume(data: Record<string, string>): { dir: string; rotate: typeof rotate } {
  const root = mkdtempSync(join(tmpdir(), 'client-keys-'));
  roots.push(root);
  const dir = join(root, 'client-keys');
  mkdirSync(dir);
  let version = 0;
  function rotate(next: Record<string, string>): void {
    const versioned = `..v${++version}`;
    mkdirSync(join(dir, versioned));
    for (const [key, value] of Object.entries(next))
      writeFileSync(join(dir, versioned, key), value);
    symlinkSync(versioned, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const key of Object.keys(next)) {
      try {
        symlinkSync(join('..data', key), join(dir, key));
      } catch {
        // already linked through ..data
      }
    }
  }
  rotate(data);
  return { dir, rotate };
}

function following(dir: string | undefined) {
  const keys = new ClientKeys();
  const directory = new ClientKeyDirectory({
    dir,
    keys,
    clock: new ManualClock(),
    logger: createLogger('silent'),
  });
  directories.push(directory);
  return { keys, directory };
}

const accepts = (keys: ClientKeys, key: string): boolean =>
  keys.identify(key, { loopback: false }) !== undefined;

describe('readKeyDirectory', () => {
  it("reads one key per file through the kubelet's links, trimmed, skipping its own entries", async () => {
    const { dir } = secretVolume({ checkout: 'key-one\n', portal: ' key-two ', empty: '' });
    mkdirSync(join(dir, 'nested'));
    expect(await readKeyDirectory(dir)).toEqual(['key-one', 'key-two']);
  });
});

describe('ClientKeyDirectory', () => {
  it('accepts the mounted keys once read, and nobody before', async () => {
    const { dir } = secretVolume({ checkout: 'key-one' });
    const { keys, directory } = following(dir);
    directory.follow('assistant-client-keys');
    expect(keys.enforced).toBe(true);
    await directory.reload();
    expect(accepts(keys, 'key-one')).toBe(true);
    expect(accepts(keys, 'key-two')).toBe(false);
  });

  it('takes a rotated Secret on the next read: the new key in, the revoked one out', async () => {
    const { dir, rotate } = secretVolume({ checkout: 'key-one' });
    const { keys, directory } = following(dir);
    directory.follow('assistant-client-keys');
    await directory.reload();
    rotate({ checkout: 'key-two' });
    await directory.reload();
    expect(accepts(keys, 'key-two')).toBe(true);
    expect(accepts(keys, 'key-one')).toBe(false);
  });

  it('lets everyone in again when the policy stops naming a Secret', async () => {
    const { dir } = secretVolume({ checkout: 'key-one' });
    const { keys, directory } = following(dir);
    directory.follow('assistant-client-keys');
    await directory.reload();
    directory.follow(undefined);
    expect(keys.enforced).toBe(false);
  });

  it.each([
    ['the pod mounts no Secret', undefined],
    ['the mounted directory is missing', '/nonexistent/client-keys'],
  ])('refuses everyone when %s', async (_name, dir) => {
    const { keys, directory } = following(dir);
    directory.follow('assistant-client-keys');
    await directory.reload();
    expect(keys.enforced).toBe(true);
    expect(keys.count).toBe(0);
  });
});

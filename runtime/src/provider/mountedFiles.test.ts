import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { MountedFiles } from './mountedFiles.ts';

describe('MountedFiles', () => {
  it('reads every file of the directory but the kubelet’s own, and again a second later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-mounted-'));
    try {
      mkdirSync(join(dir, '..data'));
      writeFileSync(join(dir, 'Authorization'), 'Bearer one\n');
      const clock = new ManualClock(0);
      const files = new MountedFiles(dir, undefined, clock);
      expect(Object.fromEntries(await files.contents())).toEqual({ Authorization: 'Bearer one' });
      writeFileSync(join(dir, 'Authorization'), 'Bearer two');
      expect((await files.contents()).get('Authorization')).toBe('Bearer one');
      clock.advance(1_000);
      expect((await files.contents()).get('Authorization')).toBe('Bearer two');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

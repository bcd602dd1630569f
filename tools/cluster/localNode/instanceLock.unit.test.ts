import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireInstanceLock } from './instanceLock.ts';

const dirs: string[] = [];
const stateDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'local-node-lock-'));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('acquireInstanceLock', () => {
  it('takes a free state directory and gives it back on release', () => {
    const dir = stateDir();
    acquireInstanceLock(dir).release();
    expect(() => {
      acquireInstanceLock(dir).release();
    }).not.toThrow();
  });

  it('takes over a lock whose holder is no local node', () => {
    const dir = stateDir();
    writeFileSync(join(dir, 'local-node.lock'), '999999999');
    expect(() => {
      acquireInstanceLock(dir).release();
    }).not.toThrow();
  });
});

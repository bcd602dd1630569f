/**
 * tools/build/pruneNodeModules.ts keeps what the bundles load from node_modules and what that
 * depends on, found as Node finds it: a nested copy before a hoisted one, optional and peer
 * dependencies when installed. Checked on a node_modules folder made here.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { packagesNeeded, prune } from '../tools/build/pruneNodeModules.ts';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A node_modules folder with a package.json per path; returns its path. */
function modules(packages: Record<string, object>): string {
  const app = mkdtempSync(join(tmpdir(), 'bw-prune-'));
  made.push(app);
  for (const [path, manifest] of Object.entries(packages)) {
    mkdirSync(join(app, 'node_modules', path), { recursive: true });
    writeFileSync(join(app, 'node_modules', path, 'package.json'), JSON.stringify(manifest));
  }
  mkdirSync(join(app, 'node_modules/.bin'), { recursive: true });
  return join(app, 'node_modules');
}

const TREE = {
  root: { dependencies: { a: '1', '@s/b': '1' }, optionalDependencies: { gone: '1' } },
  a: { dependencies: { c: '2' }, peerDependencies: { p: '1', absentPeer: '1' } },
  'a/node_modules/c': {}, // a's own c 2, not the hoisted c 1
  c: {}, // c 1: only `unused` needs it
  '@s/b': { optionalDependencies: { d: '1' } },
  d: {},
  p: {},
  unused: { dependencies: { c: '1' } },
  '@t/unused': {},
};

describe('pruneNodeModules', () => {
  it('keeps the roots, a nested copy before a hoisted one, installed optional and peer dependencies', () => {
    const root = modules(TREE);
    const kept = [...packagesNeeded(root, ['root'])].map((dir) => relative(root, dir)).sort();
    expect(kept).toEqual(['@s/b', 'a', 'a/node_modules/c', 'd', 'p', 'root']);
  });

  it('removes the rest, an emptied scope and .bin, and leaves what it keeps', () => {
    const root = modules(TREE);
    expect(prune(root, ['root']).sort()).toEqual(['@t/unused', 'c', 'unused']);
    for (const gone of ['c', 'unused', '@t', '.bin'])
      expect(existsSync(join(root, gone))).toBe(false);
    for (const kept of ['a/node_modules/c', '@s/b', 'd', 'p'])
      expect(existsSync(join(root, kept, 'package.json'))).toBe(true);
  });

  it('fails, naming both, when a required dependency is not installed', () => {
    const root = modules({ root: { dependencies: { missing: '1' } } });
    expect(() => packagesNeeded(root, ['root'])).toThrow(
      /missing, which root needs, is not installed/,
    );
  });
});

/**
 * The four programs refuse a Node.js older than 24 with a message that says what is needed,
 * what was found and how to get it, and exit 1, before anything else loads. Run for real on an
 * old Node (BREAKWATER_OLD_NODE, else /usr/bin/node when it is older than 24): from the
 * compiled entry files, since an old Node cannot load TypeScript sources at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import ts from 'typescript';
import { MINIMUM_NODE_MAJOR, unsupportedNodeMessage } from '../platform/src/node/supportedNode.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const HELPER = 'platform/src/node/supportedNode.ts';

const PROGRAMS = [
  ['breakwater-runtime', 'runtime/src/main.ts'],
  ['breakwater-operator', 'operator/src/main.ts'],
  ['breakwater-llm-sim', 'simulator/src/main.ts'],
  ['kubectl-breakwater', 'plugin/src/main.ts'],
] as const;

/** A Node.js older than the minimum to run the entry files with, if this machine has one. */
function oldNode(): { path: string; version: string } | undefined {
  const path = process.env['BREAKWATER_OLD_NODE'] ?? '/usr/bin/node';
  if (!existsSync(path)) return undefined;
  const run = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  const version = run.stdout.trim();
  return Number.parseInt(version, 10) < MINIMUM_NODE_MAJOR ? { path, version } : undefined;
}

/** Compiles the entry files and the helper as `make build` would, into a scratch tree. */
function compiledEntries(): string {
  const out = mkdtempSync(join(tmpdir(), 'breakwater-entries-'));
  writeFileSync(join(out, 'package.json'), '{"type": "module"}\n');
  for (const source of [HELPER, ...PROGRAMS.map(([, file]) => file)]) {
    const { outputText } = ts.transpileModule(readFileSync(join(REPO, source), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2023,
        rewriteRelativeImportExtensions: true,
      },
      fileName: source,
    });
    const target = join(out, source.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return out;
}

describe('unsupportedNodeMessage', () => {
  it.each([['20.20.2'], ['22.18.0'], ['23.11.1']])(
    'turns Node %s away, naming it, what is needed and how to get it',
    (version) => {
      const message = unsupportedNodeMessage('breakwater-runtime', version, '/usr/bin/node');
      expect(message).toContain(
        `breakwater-runtime: Node.js 24 or newer is needed; this is Node.js ${version} (/usr/bin/node)`,
      );
      expect(message).toContain('make setup');
    },
  );

  it.each([['24.0.0'], ['24.21.0'], ['25.2.1']])('lets Node %s through', (version) => {
    expect(unsupportedNodeMessage('breakwater-runtime', version, '/usr/bin/node')).toBeUndefined();
  });
});

const old = oldNode();
const onOldNode = old === undefined ? describe.skip : describe;

onOldNode(
  `each program run by ${old?.path ?? 'an old Node'} (${old?.version ?? 'none found'})`,
  () => {
    const tree = old === undefined ? '' : compiledEntries();
    afterAll(() => {
      if (tree !== '') rmSync(tree, { recursive: true, force: true });
    });

    it.each(PROGRAMS)(
      '%s says Node 24 is needed and exits 1, running nothing else',
      (program, file) => {
        const run = spawnSync(
          old?.path ?? '',
          [join(tree, file.replace(/\.ts$/, '.js')), '--help'],
          {
            encoding: 'utf8',
          },
        );
        expect(run.status).toBe(1);
        expect(run.stderr).toBe(
          unsupportedNodeMessage(program, old?.version ?? '', old?.path ?? ''),
        );
        expect(run.stdout).toBe(''); // --help would have printed the usage
      },
    );
  },
);

describe('each program run by this Node', () => {
  it.each(PROGRAMS)('%s gets past the check to its own --help', (program, file) => {
    const run = spawnSync(
      process.execPath,
      ['--no-warnings=ExperimentalWarning', join(REPO, file), '--help'],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`Usage: ${program}`);
  });
});

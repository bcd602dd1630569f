/**
 * The image's one entrypoint, `breakwater`: the first argument names the program, and without
 * one it is the agent runtime, as the image always ran. Run for real from the checkout (the
 * image's launcher imports the same file from dist/).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { PROGRAMS, dispatch } from '../platform/src/node/programDispatch.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = 'platform/src/node/imageEntrypoint.ts';

function run(...args: string[]) {
  const result = spawnSync(
    process.execPath,
    ['--no-warnings=ExperimentalWarning', ENTRY, ...args],
    { cwd: REPO, encoding: 'utf8', timeout: 30_000, env: { ...process.env, BREAKWATER_AGENT: '' } },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('breakwater, the image entrypoint', () => {
  it.each([
    ['no arguments run the runtime', [], 'breakwater-runtime', []],
    [
      'flags first run the runtime with them',
      ['--manifests', '/m'],
      'breakwater-runtime',
      ['--manifests', '/m'],
    ],
    [
      'a program by name runs it with the rest',
      ['breakwater-llm-sim', '--port', '1'],
      'breakwater-llm-sim',
      ['--port', '1'],
    ],
    ['a program by its short name', ['operator', '--help'], 'breakwater-operator', ['--help']],
    ['the plugin as kubectl', ['kubectl', 'status'], 'kubectl-breakwater', ['status']],
  ])('%s', (_name, args, program, rest) => {
    expect(dispatch(args)).toEqual({
      kind: 'run',
      program: expect.objectContaining({ name: program }),
      args: rest,
    });
  });

  it('names every program package.json ships, and nothing else', () => {
    const pkg = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(Object.keys(pkg.bin).sort()).toEqual(
      ['breakwater', ...PROGRAMS.map((p) => p.name)].sort(),
    );
    for (const p of PROGRAMS) expect(pkg.bin[p.name]).toBe(`dist/${p.built}.js`);
    expect(pkg.bin['breakwater']).toBe('dist/platform/src/node/imageEntrypoint.js');
  });

  it('starts the simulator when asked for it, not the runtime with a stray argument', () => {
    const { status, stdout } = run('breakwater-llm-sim', '--help');
    expect(stdout).toMatch(/^Usage: breakwater-llm-sim /);
    expect(status).toBe(0);
  });

  it('runs the runtime without a program name', () => {
    const { stdout } = run('--help');
    expect(stdout).toMatch(/^Usage: breakwater-runtime /);
  });

  it('refuses a word that names no program, listing the programs, with exit 2', () => {
    const { status, stderr } = run('breakwater-llm-simulator');
    expect(status).toBe(2);
    expect(stderr).toContain('"breakwater-llm-simulator" is not a program of this image');
    for (const p of PROGRAMS) expect(stderr).toContain(p.name);
  });

  it('lists the programs on help', () => {
    const { status, stdout } = run('help');
    expect(status).toBe(0);
    for (const p of PROGRAMS) expect(stdout).toContain(p.name);
  });
});

/** Real processes (no cluster needed): process groups, log files and runtime-style exit codes. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localLauncher, signalGroup } from './containerProcess.ts';

const dir = mkdtempSync(join(tmpdir(), 'local-node-process-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const spec = (script: string, name: string) => ({
  argv: ['sh', '-c', script],
  env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', GREETING: 'hello' },
  cwd: dir,
  logPath: join(dir, name, 'main.log'),
});

describe('localLauncher', () => {
  it('appends the output to the log file and reports the exit code', async () => {
    const proc = await localLauncher.launch(spec('echo $GREETING; echo oops >&2; exit 3', 'exit'));
    expect(await proc.exited).toEqual({ exitCode: 3, signal: undefined });
    expect(readFileSync(join(dir, 'exit', 'main.log'), 'utf8')).toBe('hello\noops\n');
  });

  it('signals every process of the group and reports 128 + the signal', async () => {
    const proc = await localLauncher.launch(spec('sleep 300 & echo $! > child.pid; wait', 'group'));
    const child = await waitForFile(join(dir, 'child.pid'));
    proc.signal('SIGTERM');
    expect(await proc.exited).toEqual({ exitCode: 143, signal: 'SIGTERM' });
    // The child got the signal too; once init reaps it the group is empty.
    expect(await eventually(() => !signalGroup(proc.pid, 0))).toBe(true);
    expect(() => process.kill(child, 0)).toThrow();
  });

  it('rejects a command that does not exist', async () => {
    await expect(
      localLauncher.launch({ ...spec('', 'missing'), argv: ['/nonexistent/command'] }),
    ).rejects.toThrow(/ENOENT/);
  });
});

async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 250 && !check(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

async function waitForFile(path: string): Promise<number> {
  for (;;) {
    try {
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { pollUntil } from './polling.ts';
import {
  findLeftovers,
  isAlive,
  killLeftovers,
  markerVariable,
  readRecord,
  startDetached,
  stopProcess,
  type ProcessRecord,
} from './supervisor.ts';

const dir = mkdtempSync(join(tmpdir(), 'breakwater-supervisor-'));
const started: ProcessRecord[] = [];

/** A shell that starts a child in its group and waits; both ignore nothing. */
async function startShell(name: string, script: string): Promise<ProcessRecord> {
  const { record } = await startDetached({
    component: name,
    command: '/bin/sh',
    args: ['-c', script],
    cwd: dir,
    env: { PATH: process.env['PATH'], [markerVariable]: dir },
    logFile: join(dir, `${name}.log`),
    pidFile: join(dir, `${name}.pid`),
  });
  started.push(record);
  return record;
}

afterEach(async () => {
  await killLeftovers(() => findLeftovers(dir, started), 1000);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the process supervisor', () => {
  it('records a detached process that a later command can find', async () => {
    const record = await startShell('sleeper', 'sleep 30');
    expect(await readRecord(join(dir, 'sleeper.pid'))).toEqual(record);
    expect(isAlive(record)).toBe(true);
  });

  it('stops the whole process group, children included', async () => {
    const record = await startShell('parent', 'sleep 30 & sleep 30; wait');
    expect(await stopProcess(record, { graceMs: 5000 })).toBe('stopped');
    expect(isAlive(record)).toBe(false);
    expect(findLeftovers(dir, [record])).toEqual([]);
  });

  it('stops children the group forks while it is being stopped', async () => {
    // A list of the group's members is out of date by the time it is signalled: a shell that
    // forks as fast as it can lands a child in that gap every time.
    const record = await startShell('forker', 'while :; do sleep 30 & done');
    expect(await stopProcess(record, { graceMs: 5000 })).toBe('stopped');
    expect(findLeftovers(dir, [record])).toEqual([]);
  });

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    // The shell says when it ignores SIGTERM: stopping it before then would test nothing.
    const ready = join(dir, 'stubborn.ready');
    const record = await startShell(
      'stubborn',
      `trap '' TERM; : > '${ready}'; sleep 30 & wait; sleep 30`,
    );
    const trapped = await pollUntil(async () => Promise.resolve(existsSync(ready)), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(trapped.kind).toBe('done');
    expect(await stopProcess(record, { graceMs: 300 })).toBe('killed');
    expect(isAlive(record)).toBe(false);
  });

  it('finds a process that left the group but carries the marker', async () => {
    const record = await startShell('escaper', 'sleep 30');
    const escaped = spawn('sleep', ['30'], {
      detached: true,
      stdio: 'ignore',
      env: { PATH: process.env['PATH'], [markerVariable]: dir },
    });
    escaped.unref();
    await stopProcess(record, { graceMs: 5000 });
    expect(findLeftovers(dir, [record])).toEqual([escaped.pid]);
  });

  it('reports a process that is already gone as not running', async () => {
    const record = await startShell('brief', 'exit 0');
    const outcome = await pollUntil(async () => Promise.resolve(!isAlive(record)), {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    expect(outcome.kind).toBe('done');
    expect(await stopProcess(record, { graceMs: 1000 })).toBe('not-running');
  });
});

import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { AuditLog } from '../audit/auditLog.ts';
import { createLogger } from '../telemetry/logger.ts';
import { DurableMetrics } from './durableMetrics.ts';
import { clientKeyCaller, POD_CALLER } from '../access/callerIdentity.ts';
import { DurableRuns } from './durableRuns.ts';

const dir = mkdtempSync(join(tmpdir(), 'bw-durable-unit-'));
const keyFile = join(dir, 'key');
const settings = {
  // Nothing listens there: the client's connection fails in the background, as a store down's does.
  store: { redis: { address: '127.0.0.1:1' } },
  retentionMs: 60_000,
  encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
  keyPrefix: 'breakwater:run:unit/agent',
};
const name = { id: 'run-1', attempt: 'attempt-1' };

function durableRuns(clock: ManualClock) {
  const registry = new Registry();
  const metrics = new DurableMetrics(registry);
  const runs = new DurableRuns({
    clock,
    logger: createLogger('silent'),
    metrics,
    audit: new AuditLog(false),
    env: { BREAKWATER_DURABILITY_KEY_FILE: keyFile },
  });
  const noKey = async () =>
    (await metrics.unjournaled.get()).values.find((v) => v.labels.reason === 'no_key')?.value;
  return { runs, noKey };
}

afterEach(() => {
  rmSync(keyFile, { force: true });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('durable runs without their key', () => {
  it('go on unjournaled, counted, and read the key again ten seconds later', async () => {
    const clock = new ManualClock(0);
    const { runs, noKey } = durableRuns(clock);
    runs.configure(settings);
    expect(runs.enabled).toBe(false);
    // Asked for and off: why is kept, for the endpoints to say (not "durability is not set").
    expect(runs.unreadable).toMatch(
      /durability\.encryptionKeySecretRef \(Secret [^,]+, key [^)]+\) from .*ENOENT.*--manifests put the Secret among them/,
    );
    expect(runs.runOf(name, clientKeyCaller('k'))).toBeUndefined();
    expect(await noKey()).toBe(1);

    writeFileSync(keyFile, Buffer.alloc(32, 1).toString('base64'));
    clock.advance(9_999);
    expect(runs.runOf(name, clientKeyCaller('k'))).toBeUndefined();
    expect(await noKey()).toBe(2);
    clock.advance(1);
    expect(runs.runOf(name, clientKeyCaller('k'))).toMatchObject({
      ok: true,
      run: { id: 'run-1' },
    });
    // The call that read the key again is journaled: not counted as one that went without.
    expect(await noKey()).toBe(2);
    expect(runs.enabled).toBe(true);
    expect(runs.unreadable).toBeUndefined();
    runs.close();
  });

  it('refuses a run id or attempt that cannot be one, or an id without its attempt, saying which', () => {
    writeFileSync(keyFile, Buffer.alloc(32, 1));
    const { runs } = durableRuns(new ManualClock(0));
    runs.configure(settings);
    expect(runs.runOf({ id: 'a b' }, clientKeyCaller('k'))).toEqual({
      ok: false,
      name: 'id',
      problem: 'must be 1 to 128 letters, digits or . _ : -, got "a b"',
    });
    expect(runs.runOf({ id: 'run-1', attempt: ['a', 'b'] }, clientKeyCaller('k'))).toEqual({
      ok: false,
      name: 'attempt',
      problem: 'must be 1 to 128 letters, digits or . _ : -, got ["a","b"]',
    });
    expect(runs.runOf({ id: 'run-1' }, clientKeyCaller('k'))).toMatchObject({
      ok: false,
      name: 'attempt',
      problem: expect.stringMatching(/^is missing: send Breakwater-Run-Attempt with/) as unknown,
    });
    runs.close();
  });

  it('binds a run to a keyed hash of the client key, and every pod key to one owner', () => {
    writeFileSync(keyFile, Buffer.alloc(32, 1));
    const { runs } = durableRuns(new ManualClock(0));
    runs.configure(settings);
    const owner = (key: string, pod: boolean) => {
      const named = runs.runOf(name, pod ? POD_CALLER : clientKeyCaller(key));
      return named?.ok === true ? named.run.owner : undefined;
    };
    expect(owner('key-a', false)).toBe(owner('key-a', false));
    expect(owner('key-a', false)).not.toBe(owner('key-b', false));
    expect(owner('key-a', false)).not.toContain('key-a');
    expect(owner('breakwater-pod-1', true)).toBe(owner('breakwater-pod-2', true));
    runs.close();
  });
});

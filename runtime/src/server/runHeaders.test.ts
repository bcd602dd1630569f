import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { ManualClock } from '../../../test/support/manualClock.ts';
import { clientKeyCaller } from '../access/callerIdentity.ts';
import { AuditLog } from '../audit/auditLog.ts';
import { DurableMetrics } from '../durable/durableMetrics.ts';
import { DurableRuns } from '../durable/durableRuns.ts';
import { createLogger } from '../telemetry/logger.ts';
import { runNamedBy } from './runHeaders.ts';

const dir = mkdtempSync(join(tmpdir(), 'bw-run-headers-'));
const keyFile = join(dir, 'key');
writeFileSync(keyFile, Buffer.alloc(32, 1));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Durable runs, on (a key and a store that need not answer) or off. */
function durableRuns(on: boolean): DurableRuns {
  const runs = new DurableRuns({
    clock: new ManualClock(0),
    logger: createLogger('silent'),
    metrics: new DurableMetrics(new Registry()),
    audit: new AuditLog(false),
    env: { BREAKWATER_DURABILITY_KEY_FILE: keyFile },
  });
  if (on)
    runs.configure({
      // Nothing listens there: naming a run needs the key, not the store.
      store: { redis: { address: '127.0.0.1:1' } },
      retentionMs: 60_000,
      encryptionKeySecretRef: { name: 'journal-key', key: 'key' },
      keyPrefix: 'breakwater:run:unit/agent',
    });
  return runs;
}

const caller = clientKeyCaller('k');

describe('the headers that name a durable run', () => {
  it.each([
    ['an id that cannot be one', { 'breakwater-run-id': 'a b' }, 'Breakwater-Run-Id'],
    [
      'an attempt that cannot be one',
      { 'breakwater-run-id': 'run-1', 'breakwater-run-attempt': 'a/b' },
      'Breakwater-Run-Attempt',
    ],
  ])('refuse %s, naming the header', (_name, headers, header) => {
    const runs = durableRuns(true);
    expect(runNamedBy(runs, headers, caller)).toEqual({
      ok: false,
      message: expect.stringMatching(
        new RegExp(`^header ${header} must be 1 to 128 letters, digits or \\. _ : -, got "`),
      ) as unknown,
    });
    runs.close();
  });

  it('refuse an id without its attempt, naming the header and what to send', () => {
    const runs = durableRuns(true);
    expect(runNamedBy(runs, { 'breakwater-run-id': 'run-1' }, caller)).toEqual({
      ok: false,
      message:
        'header Breakwater-Run-Attempt is missing: send Breakwater-Run-Attempt with Breakwater-Run-Id: a new value, e.g. a UUID, at each start of your agent, the same for every call of that start',
    });
    runs.close();
  });

  it('name the run and its attempt', () => {
    const runs = durableRuns(true);
    expect(
      runNamedBy(
        runs,
        { 'breakwater-run-id': 'run-1', 'breakwater-run-attempt': 'attempt-2' },
        caller,
      ),
    ).toMatchObject({ ok: true, run: { id: 'run-1', attempt: 'attempt-2' } });
    runs.close();
  });

  it.each([
    ['without Breakwater-Run-Id, durability on', true, {}],
    ['with durability off, however wrong the id', false, { 'breakwater-run-id': 'a b' }],
  ])('name no run %s', (_name, on, headers) => {
    const runs = durableRuns(on);
    expect(runNamedBy(runs, headers, caller)).toBeUndefined();
    runs.close();
  });
});

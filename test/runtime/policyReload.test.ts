/**
 * A policy edit on a real runtime process (`--policy`), timed from the file's write to the
 * moment `/debug/policy` serves the new hash, edit after edit (issue 53 item 6). No threshold:
 * the test holds that every edit is applied, in the order written, each once, and prints the
 * figures, where a delay bound to a timer (a poll, a report interval) shows as edits that all
 * take about that long.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { policyHash } from '../../contract/src/policy/policyDocument.ts';
import { median } from '../../tools/stats/samples.ts';
import {
  policyDocument,
  sample,
  standaloneRuntime,
  type StandaloneRuntime,
} from '../support/standaloneRuntime.ts';
import { waitFor } from '../support/waitFor.ts';

const EDITS = 8;
let rt: StandaloneRuntime;

beforeAll(async () => {
  rt = await standaloneRuntime(policyDocument('http://127.0.0.1:9'));
});

afterAll(async () => {
  await rt.stop();
});

const inForce = async (): Promise<string | undefined> =>
  ((await rt.runtime.debug('/debug/policy')) as { hash?: string }).hash;

describe('a policy edit on a running runtime', () => {
  it('is applied edit after edit, in the order written, each once', async () => {
    const applied: string[] = [];
    const written: string[] = [];
    const took: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      const doc = policyDocument('http://127.0.0.1:9', (d) => {
        d.rateLimit.requests = { replicaPerSecond: 1_000 + i, replicaBurst: 1_000 };
      });
      const hash = policyHash(doc);
      written.push(hash);
      const at = performance.now();
      rt.writePolicy(doc);
      applied.push(
        await waitFor(async () => ((await inForce()) === hash ? hash : undefined), {
          timeoutMs: 10_000,
          intervalMs: 2,
          description: `edit ${String(i)} (${hash}) in force`,
        }),
      );
      took.push(performance.now() - at);
    }
    process.stdout.write(
      `policy edit → in force (file source, ${String(EDITS)} edits): median ` +
        `${median(took).toFixed(0)} ms, each ${took.map((t) => t.toFixed(0)).join(' ')} ms\n`,
    );
    expect(applied).toEqual(written);
    // Each edit counted once as applied: none merged into the next, none applied twice.
    expect(
      sample(await rt.runtime.metrics(), 'breakwater_policy_reloads_total', {
        result: 'applied',
      }),
    ).toBe(EDITS + 1);
  });
});

/**
 * The runs an agent's journal holds, for `/debug/runs` and `kubectl breakwater runs`, and the
 * per-run counts that listing shows. Beside a run's three journal keys (runJournal.ts) a hash
 * `<prefix>:{<run>}:counts` counts its replayed calls, resumed attempts and divergences; the
 * claim that decided each event counts it (claim.lua), and it expires with the journal.
 *
 * Listing reads, never writes: a SCAN of the agent's `:log` keys (bounded), then one read-only
 * script per run (runSummary.lua) that returns each step's kind and state — the first two
 * characters of its entry, never the sealed answer.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { StoreCommands } from '../rateLimitStore/storeCommands.ts';
import {
  MAX_LISTED_STEPS,
  type ListedRun,
  type RunsDocument,
  type StepCode,
} from '../../../contract/src/reporting/runsListing.ts';
import { ACTIVE_RUN_WINDOW_MS } from '../../../contract/src/reporting/durableReport.ts';
import { runScript, type LuaScript } from '../rateLimitStore/luaScripts.ts';
import { countsKey, runKeys } from './runJournal.ts';

/** Runs a listing looks at, at most: bounds the SCAN on a store that holds very many. */
export const MAX_SCANNED_RUNS = 2_000;
export const DEFAULT_LISTED_RUNS = 20;
export const MAX_LISTED_RUNS = 200;

const SUMMARY_SOURCE = readFileSync(new URL('./runSummary.lua', import.meta.url), 'utf8');
const SUMMARY_SCRIPT: LuaScript = {
  name: 'runSummary',
  source: SUMMARY_SOURCE,
  sha: createHash('sha1').update(SUMMARY_SOURCE).digest('hex'),
};

/** The fingerprint a run of another client key is listed by. */
export function runFingerprint(run: string): string {
  return `fp:${createHash('sha256').update(run).digest('hex').slice(0, 12)}`;
}

/** Redis glob characters in the prefix matched literally. */
const globEscaped = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

export interface ListOptions {
  readonly prefix: string;
  readonly retentionMs: number;
  readonly now: number;
  readonly limit: number;
}

export async function listRuns(client: StoreCommands, options: ListOptions): Promise<RunsDocument> {
  const { prefix } = options;
  const head = `${prefix}:{`;
  const tail = '}:log';
  const ids: string[] = [];
  let truncated = false;
  scan: for await (const keys of client.scanIterator({
    MATCH: `${globEscaped(head)}*${tail}`,
    COUNT: 500,
  })) {
    for (const key of keys) {
      if (ids.length >= MAX_SCANNED_RUNS) {
        truncated = true;
        break scan;
      }
      ids.push(key.slice(head.length, key.length - tail.length));
    }
  }
  const runs = (await Promise.all(ids.map((id) => readRun(client, id, options)))).filter(
    (r): r is ListedRun => r !== undefined,
  );
  runs.sort((a, b) => b.lastStep.localeCompare(a.lastStep) || a.run.localeCompare(b.run));
  return {
    runs: runs.slice(0, options.limit),
    found: runs.length,
    truncated,
    retentionSeconds: Math.round(options.retentionMs / 1000),
  };
}

async function readRun(
  client: StoreCommands,
  id: string,
  { prefix, retentionMs, now }: ListOptions,
): Promise<ListedRun | undefined> {
  const reply = (await runScript(
    client,
    SUMMARY_SCRIPT,
    [...runKeys(prefix, id), countsKey(prefix, id)],
    [String(MAX_LISTED_STEPS)],
  )) as [string, number, string, string, number, string[]];
  const [codes, steps, cursorText, owner, pttl, countList] = reply;
  // Expired between the scan and the read, or emptied by a divergence at its first step.
  if (pttl < 0 || steps === 0) return undefined;
  const counts = new Map<string, number>();
  for (let i = 0; i + 1 < countList.length; i += 2)
    counts.set(countList[i] ?? '', Number(countList[i + 1]));
  const cursor = Math.min(Number.parseInt(cursorText, 10), steps);
  const lastStepMs = now - Math.max(0, retentionMs - pttl);
  const recent = now - lastStepMs < ACTIVE_RUN_WINDOW_MS;
  // `<key id>:pods` (owner.lua), or 'pods' from before key ids.
  const ownPods = owner === 'pods' || owner.endsWith(':pods');
  return {
    run: ownPods ? id : runFingerprint(id),
    owner: ownPods ? 'pods' : 'client-key',
    state: !recent ? 'idle' : cursor < steps ? 'replaying' : 'running',
    steps,
    stepCodes: codes === '' ? [] : codes.split(',').map(stepCode),
    cursor,
    replayed: counts.get('replayed') ?? 0,
    resumed: counts.get('resumed') ?? 0,
    diverged: counts.get('diverged') ?? 0,
    lastStep: new Date(lastStepMs).toISOString(),
  };
}

function stepCode(code: string): StepCode {
  const kind = code.startsWith('t') ? 't' : 'm';
  return code[1] === 'd' ? kind : `${kind}?`;
}

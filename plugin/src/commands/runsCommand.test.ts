import { describe, expect, it } from '@jest/globals';
import type { ListedRun } from '../../../contract/src/reporting/runsListing.ts';
import { runsTable, stepsText, type RunsData } from './runsCommand.ts';

const NOW = Date.parse('2026-11-25T09:00:00.000Z');

const run = (id: string, over: Partial<ListedRun> = {}): ListedRun => ({
  run: id,
  owner: 'pods',
  state: 'running',
  steps: 6,
  stepCodes: ['m', 't', 'm', 't', 'm', 't'],
  cursor: 6,
  replayed: 0,
  resumed: 0,
  diverged: 0,
  lastStep: '2026-11-25T08:59:50.000Z',
  ...over,
});

const data = (over: Partial<RunsData> = {}): RunsData => ({
  namespace: 'prod',
  agent: 'triage',
  durability: true,
  totals: { active: 1, resumed: 1, diverged: 0, replayedCalls: 6 },
  store: {
    status: 'True',
    reason: 'Available',
    message: '1 replicas journal durable runs in redis:6379',
  },
  readFrom: 'triage-7f-x2',
  listing: { runs: [], found: 0, truncated: false, retentionSeconds: 86_400 },
  unread: [],
  ...over,
});

describe('runsTable', () => {
  it('says what to do when the agent has no durability', () => {
    expect(runsTable(data({ durability: false }), NOW)).toBe(
      'prod/triage has no spec.durability: its runs are not journaled and cannot be resumed.\n' +
        'Set spec.durability (a Redis store and a journal key) and name each run with the Breakwater-Run-Id and Breakwater-Run-Attempt headers; see docs/agents/durable-runs.md.\n',
    );
  });

  it('says how a run gets journaled when the journal holds none', () => {
    const text = runsTable(data(), NOW);
    expect(text).toContain(
      'No runs in the journal of triage (a run is kept 24h after its last step).',
    );
    expect(text).toContain('Breakwater-Run-Id and Breakwater-Run-Attempt headers');
  });

  it('lists each run with its steps, replay counts and last step, and the agent’s totals', () => {
    const listing = {
      runs: [
        run('ticket-42', { state: 'replaying', cursor: 3, replayed: 3, resumed: 1 }),
        run('fp:0123456789ab', {
          owner: 'client-key',
          state: 'idle',
          steps: 2,
          stepCodes: ['m', 't?'],
          lastStep: '2026-11-25T08:00:00.000Z',
        }),
      ],
      found: 2,
      truncated: false,
      retentionSeconds: 86_400,
    };
    expect(runsTable(data({ listing }), NOW)).toBe(
      [
        'prod/triage: 1 run active; over every pod it ran, 1 resumed, 0 diverged, 6 calls replayed.',
        'Journal store: DurabilityStoreAvailable True (Available) 1 replicas journal durable runs in redis:6379',
        '',
        'RUN               STATE       STEPS   REPLAYED   RESUMED   DIVERGED   LAST STEP   JOURNAL',
        'ticket-42         replaying   3/6     3          1         0          10s ago     m t m t m t',
        'fp:0123456789ab   idle        2       0          0         0          60m ago     m t?',
        "fp:… is a run of another client key, shown by its id's fingerprint: printf %s RUN_ID | sha256sum | cut -c1-12",
        'STEPS a/b: a resumed attempt is replaying, at step a of b. JOURNAL: m a model call, t a tool call, ? started and not completed. Read from pod triage-7f-x2.',
        '',
      ].join('\n'),
    );
  });

  it('names each pod it could not read, and says none could', () => {
    const text = runsTable(
      data({ listing: undefined, unread: [{ pod: 'triage-7f-x2', reason: 'no answer' }] }),
      NOW,
    );
    expect(text).toContain(
      'No pod of triage could list its runs.\npod triage-7f-x2 not read: no answer\n',
    );
  });
});

describe('stepsText', () => {
  it('shows the first sixteen steps and how many more', () => {
    const codes = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'm' : 't'));
    expect(stepsText(run('r', { steps: 20, stepCodes: codes }))).toBe(
      'm t m t m t m t m t m t m t m t …+4',
    );
  });
});

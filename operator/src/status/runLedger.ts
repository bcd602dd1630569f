/**
 * Durable run counts (AgentDeployment `status.runs`). Each runtime process counts the runs it
 * resumed, the runs that diverged on it and the calls it replayed from zero, so a sum over the
 * pods running now would fall whenever a pod is replaced — exactly when runs resume. The
 * status keeps a ledger as it does for trips (tripLedger.ts, docs/design.md "Trips are a
 * ledger"): a baseline with the counts of processes that are gone, and one entry per pod
 * present with the most its current process has reported; a process moves from its entry to
 * the baseline inside one status write, so it is counted exactly once and no total decreases.
 * Pure and level-triggered: an operator that restarts reads the ledger back and goes on.
 */
import type {
  AgentRunsStatus,
  RunCounts,
  RunLedger,
} from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import {
  DURABLE_RUNS_ANNOTATION,
  decodeDurableReport,
} from '../../../contract/src/reporting/durableReport.ts';
import {
  RUNTIME_ANNOTATION,
  decodeRuntimeReport,
} from '../../../contract/src/reporting/runtimeReport.ts';
import { liveProcesses } from './ledgerProcesses.ts';
import type { PodView } from './views.ts';

/** A pod the API server holds for the agent, terminating ones included. */
export interface RunLedgerPod {
  readonly uid: string;
  /** Whether it runs (its `active` runs count only then). */
  readonly running: boolean;
  /** What its runtime reports now; undefined while it reports nothing, which keeps its entry. */
  readonly process?: {
    /** Tells one process from the next in the same pod; '' from a runtime that does not say. */
    readonly started: string;
    readonly active: number;
    readonly counts: Required<RunCounts>;
  };
}

const ZERO: Required<RunCounts> = { resumed: 0, diverged: 0, replayedCalls: 0 };

const add = (a: RunCounts, b: RunCounts): Required<RunCounts> => ({
  resumed: (a.resumed ?? 0) + (b.resumed ?? 0),
  diverged: (a.diverged ?? 0) + (b.diverged ?? 0),
  replayedCalls: (a.replayedCalls ?? 0) + (b.replayedCalls ?? 0),
});

/** Each count at its high-water mark: a process's counts only grow. */
const most = (a: RunCounts, b: RunCounts): Required<RunCounts> => ({
  resumed: Math.max(a.resumed ?? 0, b.resumed ?? 0),
  diverged: Math.max(a.diverged ?? 0, b.diverged ?? 0),
  replayedCalls: Math.max(a.replayedCalls ?? 0, b.replayedCalls ?? 0),
});

/** The ledger after the pods now present: gone or replaced processes move to the baseline. */
export function foldRuns(
  previous: RunLedger | undefined,
  pods: readonly RunLedgerPod[],
): Required<RunLedger> {
  let baseline = add(ZERO, previous?.baseline ?? {});
  const entries = liveProcesses(previous?.processes, pods, (entry) => {
    baseline = add(baseline, entry);
  });
  for (const pod of pods) {
    const now = pod.process;
    if (now === undefined) continue;
    const recorded = entries.get(pod.uid);
    entries.set(pod.uid, {
      pod: pod.uid,
      started: now.started,
      ...most(recorded ?? ZERO, now.counts),
    });
  }
  return {
    baseline,
    processes: [...entries.values()].sort((a, b) => a.pod.localeCompare(b.pod)),
  };
}

/** `status.runs`: the ledger's totals and the runs active on the running pods. */
export function runsStatus(
  ledger: Required<RunLedger>,
  pods: readonly RunLedgerPod[],
): AgentRunsStatus {
  let totals = add(ZERO, ledger.baseline);
  for (const entry of ledger.processes) totals = add(totals, entry);
  const active = pods.reduce((sum, p) => sum + (p.running ? (p.process?.active ?? 0) : 0), 0);
  return { active, ...totals, ledger };
}

/** What the ledger needs of a pod: its UID and, once its runtime reports runs, its counts. */
export function runLedgerPod(pod: PodView): RunLedgerPod {
  const uid = pod.metadata?.uid ?? '';
  const running = pod.status?.phase === 'Running';
  const annotations = pod.metadata?.annotations;
  const report = decodeDurableReport(annotations?.[DURABLE_RUNS_ANNOTATION]);
  if (report === undefined) return { uid, running };
  const started = decodeRuntimeReport(annotations?.[RUNTIME_ANNOTATION])?.started ?? '';
  return {
    uid,
    running,
    process: {
      started,
      active: report.active,
      counts: {
        resumed: report.resumed,
        diverged: report.diverged,
        replayedCalls: report.replayed,
      },
    },
  };
}

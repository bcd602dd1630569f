/**
 * The step every ledger the operator keeps shares (trips, runs, and spend in ../spend/): which
 * recorded processes still run.
 * A ledger keeps one entry per process, keyed by its pod's uid and told from the pod's next
 * process by its start time. An entry whose pod is gone, or whose pod now runs another
 * process, is final: it is handed to `retire` (which moves it into the baseline) exactly once
 * and left out of what is returned. A pod reporting nothing for the moment keeps its entry.
 */
export interface RecordedProcess {
  /** The pod's uid. */
  readonly pod: string;
  readonly started: string;
}

export interface ReportingPod {
  readonly uid: string;
  /** Undefined while the pod's runtime reports nothing (starting, or between processes). */
  readonly process?: { readonly started: string };
}

/** The entries of processes that still run, by pod uid; every other one goes to `retire`. */
export function liveProcesses<E extends RecordedProcess>(
  recorded: readonly E[] | undefined,
  pods: readonly ReportingPod[],
  retire: (entry: E) => void,
): Map<string, E> {
  const present = new Map(pods.map((p) => [p.uid, p]));
  const live = new Map<string, E>();
  for (const entry of recorded ?? []) {
    const pod = present.get(entry.pod);
    if (pod !== undefined && (pod.process === undefined || pod.process.started === entry.started))
      live.set(entry.pod, entry);
    else retire(entry);
  }
  return live;
}

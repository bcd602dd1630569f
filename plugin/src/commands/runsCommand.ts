/**
 * `kubectl breakwater runs AGENT`: the agent's durable runs (spec.durability), newest first,
 * with their steps, what replay did for each, and the agent's totals from its status
 * (`status.runs`, kept by the operator across pod replacement) and its
 * DurabilityStoreAvailable condition. The runs come from the journal in the store, which every
 * replica reads alike: one replica's `/debug/runs`, through the API server's pod proxy on the
 * runtime's metrics port as `top` reads `/debug/stats`, is enough; the next is asked when one
 * cannot answer. A run of a client key other than the agent's own pods' is shown by a
 * fingerprint of its id, never the id.
 */
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import type { AgentRunsStatus } from '../../../contract/src/api/v1alpha1/agentdeployment.ts';
import type { Condition } from '../../../contract/src/api/v1alpha1/common.ts';
import { isKubeApiError } from '../../../platform/src/kube/kubeClient.ts';
import { DEBUG_OFF } from '../../../contract/src/reporting/debugStats.ts';
import {
  DEBUG_RUNS_PATH,
  DURABILITY_OFF,
  type ListedRun,
  type RunsDocument,
} from '../../../contract/src/reporting/runsListing.ts';
import { agentNamed, podsOf, type PodObject } from '../cluster/agentObjects.ts';
import type { PluginKube } from '../cluster/pluginKube.ts';
import type { CommandResult } from '../output/printResult.ts';
import { age, renderTable } from '../output/table.ts';
import {
  DEBUG_OFF_HINT,
  POD_READ_TIMEOUT_MS,
  statsProxyPath,
  unreadReason,
  type UnreadReplica,
} from './topCommand.ts';

/** The condition the operator sets from the pods' reports on the journal's store. */
const STORE_CONDITION = 'DurabilityStoreAvailable';
/** Steps shown per run in the table; `-o json` has them all. */
const SHOWN_STEPS = 16;

export interface RunsData {
  readonly namespace: string;
  readonly agent: string;
  /** Whether the agent has spec.durability. */
  readonly durability: boolean;
  /** Its status.runs totals, without the ledger. */
  readonly totals?: Omit<AgentRunsStatus, 'ledger'>;
  readonly store?: Pick<Condition, 'status' | 'reason' | 'message'>;
  /** The pod the runs were read from. */
  readonly readFrom?: string;
  readonly listing?: RunsDocument;
  /** Pods asked that did not answer, and why. */
  readonly unread: readonly UnreadReplica[];
}

export async function runsCommand(
  kube: PluginKube,
  namespace: string,
  name: string,
  limit: number,
  now: number,
): Promise<CommandResult<RunsData>> {
  const agent = await agentNamed(kube, namespace, name);
  const base = summary(agent, namespace, name);
  if (!base.durability) return { data: base, table: (data) => runsTable(data, now) };
  const running = (await podsOf(kube, agent)).filter((p) => p.status?.phase === 'Running');
  const unread: UnreadReplica[] = [];
  if (agent.spec.monitoring?.debugEndpoints === false) {
    for (const pod of running)
      unread.push({ pod: pod.metadata?.name ?? '', reason: DEBUG_OFF_HINT });
    return { data: { ...base, unread }, table: (data) => runsTable(data, now) };
  }
  // Every replica reads the same journal: the first that answers is enough.
  for (const pod of running) {
    const read = await readRuns(kube, pod, limit);
    if ('reason' in read) {
      unread.push(read);
      continue;
    }
    const data = { ...base, readFrom: pod.metadata?.name ?? '', listing: read.listing, unread };
    return { data, table: (d) => runsTable(d, now) };
  }
  return { data: { ...base, unread }, table: (data) => runsTable(data, now) };
}

function summary(agent: AgentDeployment, namespace: string, name: string): RunsData {
  const runs = agent.status?.runs;
  const condition = agent.status?.conditions?.find((c) => c.type === STORE_CONDITION);
  return {
    namespace,
    agent: name,
    durability: agent.spec.durability !== undefined,
    ...(runs === undefined
      ? {}
      : {
          totals: {
            active: runs.active ?? 0,
            resumed: runs.resumed ?? 0,
            diverged: runs.diverged ?? 0,
            replayedCalls: runs.replayedCalls ?? 0,
          },
        }),
    ...(condition === undefined
      ? {}
      : {
          store: {
            status: condition.status,
            reason: condition.reason,
            message: condition.message,
          },
        }),
    unread: [],
  };
}

async function readRuns(
  kube: PluginKube,
  pod: PodObject,
  limit: number,
): Promise<{ listing: RunsDocument } | UnreadReplica> {
  const name = pod.metadata?.name ?? '';
  const path = statsProxyPath(pod, DEBUG_RUNS_PATH);
  if (typeof path !== 'string') return path;
  try {
    const text = await kube.getText(
      `${path}?limit=${String(limit)}`,
      AbortSignal.timeout(POD_READ_TIMEOUT_MS),
    );
    const listing = JSON.parse(text) as RunsDocument;
    if (!Array.isArray(listing.runs))
      return { pod: name, reason: `${DEBUG_RUNS_PATH} answered without "runs"` };
    return { listing };
  } catch (err) {
    if (isKubeApiError(err)) {
      if (err.message.includes(DURABILITY_OFF))
        return { pod: name, reason: 'its runtime has not applied spec.durability yet' };
      if (err.status === 503) return { pod: name, reason: err.message };
      if (err.status === 404 && !err.message.includes(DEBUG_OFF))
        return {
          pod: name,
          reason: `its runtime has no ${DEBUG_RUNS_PATH} (an older version): upgrade it to list runs`,
        };
    }
    return { pod: name, reason: unreadReason(err, pod) };
  }
}

/** A run's steps in order, m a model call and t a tool call, `?` one that did not complete. */
export function stepsText(run: ListedRun): string {
  const shown = run.stepCodes.slice(0, SHOWN_STEPS).join(' ');
  const more = run.steps - Math.min(run.steps, SHOWN_STEPS);
  return more > 0 ? `${shown} …+${String(more)}` : shown;
}

export function runsTable(data: RunsData, now: number): string {
  const who = `${data.namespace}/${data.agent}`;
  if (!data.durability)
    return (
      `${who} has no spec.durability: its runs are not journaled and cannot be resumed.\n` +
      'Set spec.durability (a Redis store and a journal key) and name each run with the ' +
      'Breakwater-Run-Id and Breakwater-Run-Attempt headers; see docs/agents/durable-runs.md.\n'
    );
  const lines: string[] = [];
  const t = data.totals;
  if (t !== undefined)
    lines.push(
      `${who}: ${String(t.active ?? 0)} ${t.active === 1 ? 'run' : 'runs'} active; over every pod it ran, ` +
        `${String(t.resumed ?? 0)} resumed, ${String(t.diverged ?? 0)} diverged, ` +
        `${String(t.replayedCalls ?? 0)} calls replayed.`,
    );
  if (data.store !== undefined)
    lines.push(
      `Journal store: ${STORE_CONDITION} ${data.store.status} (${data.store.reason}) ${data.store.message}`,
    );
  const listing = data.listing;
  let body = '';
  if (listing === undefined) {
    body =
      data.unread.length === 0
        ? `No running pod of ${data.agent} to read its runs from: wait until one runs (kubectl breakwater explain ${data.agent}).\n`
        : `No pod of ${data.agent} could list its runs.\n`;
  } else if (listing.runs.length === 0) {
    body =
      `No runs in the journal of ${data.agent} (a run is kept ${age(0, listing.retentionSeconds * 1000)} after its last step).\n` +
      'A run is journaled when its calls carry the Breakwater-Run-Id and Breakwater-Run-Attempt ' +
      "headers (set once per start of the agent, in the SDK client's default headers); see " +
      'docs/agents/durable-runs.md.\n';
  } else {
    body = renderTable(
      ['run', 'state', 'steps', 'replayed', 'resumed', 'diverged', 'last step', 'journal'],
      listing.runs.map((r) => [
        r.run,
        r.state,
        r.cursor < r.steps ? `${String(r.cursor)}/${String(r.steps)}` : String(r.steps),
        r.replayed,
        r.resumed,
        r.diverged,
        `${age(Date.parse(r.lastStep), now)} ago`,
        stepsText(r),
      ]),
    );
    const notes: string[] = [];
    if (listing.found > listing.runs.length)
      notes.push(
        `The newest ${String(listing.runs.length)} of ${String(listing.found)} runs${listing.truncated ? ' (more exist; the scan stopped)' : ''}: --limit shows more.`,
      );
    if (listing.runs.some((r) => r.owner === 'client-key'))
      notes.push(
        "fp:… is a run of another client key, shown by its id's fingerprint: printf %s RUN_ID | sha256sum | cut -c1-12",
      );
    notes.push(
      `STEPS a/b: a resumed attempt is replaying, at step a of b. JOURNAL: m a model call, t a tool call, ? started and not completed. Read from pod ${data.readFrom ?? ''}.`,
    );
    body += notes.map((n) => `${n}\n`).join('');
  }
  const unread = data.unread.map((u) => `pod ${u.pod} not read: ${u.reason}\n`).join('');
  return `${lines.map((l) => `${l}\n`).join('')}${lines.length > 0 ? '\n' : ''}${body}${unread}`;
}

/**
 * The team's own durable agent in a pod of the cluster, as the on-call test
 * (test/onCall/durableRunResume.test.ts) and the SIGKILL trials (bench/durable/killTrials.ts)
 * drive it: durableAgent.ts run with `kubectl exec` in the agent container of a pod whose
 * runtime sidecar journals in the store, and the pod to run it in.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { createInterface } from 'node:readline';
import {
  DURABLE_RUNS_ANNOTATION,
  decodeDurableReport,
} from '../../contract/src/reporting/durableReport.ts';
import { MCP_ANNOTATION, decodeMcpReport } from '../../contract/src/reporting/mcpReport.ts';
import { agentDeployment, MODEL } from './agentFixtures.ts';
import { agentPods, isPodReady, type PodView } from './breakwaterCluster.ts';
import { kubeconfigPath, kubectlPath } from './kube.ts';
import { eventually } from './operator.ts';

/** The agent container idles; the agent program runs in it with `kubectl exec`. */
const IDLE_AGENT = ['/nodejs/bin/node', '-e', 'setInterval(() => undefined, 1 << 30)'];
const KEY_SECRET = 'journal-key';

/** `durability.store.redis`: a server's address, or any shape the schema takes. */
export type JournalStore = string | Readonly<Record<string, unknown>>;

/** The journal key's Secret, one per namespace, shared by its durable agents. */
export function journalKeySecret(): object {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: KEY_SECRET },
    stringData: { key: randomBytes(32).toString('base64') },
  };
}

/**
 * A durable agent whose container idles for `kubectl exec`, and its journal key's Secret: the
 * runtime journals in the Redis `redis` names (a redis-server's address, or a `store.redis` such
 * as `{sentinel, acknowledge}`) and reaches the MCP server `tools` at `mcp`.
 */
export function durableAgentObjects(
  name: string,
  where: { providerURL: string; redis: JournalStore; mcp: string; image: string },
): object[] {
  return [journalKeySecret(), durableAgent(name, where)];
}

/** The durable agent alone, for a second one beside the first (the key's Secret is shared). */
export function durableAgent(
  name: string,
  where: { providerURL: string; redis: JournalStore; mcp: string; image: string },
): object {
  return agentDeployment(name, {
    providerURL: where.providerURL,
    spec: {
      durability: {
        store: { redis: typeof where.redis === 'string' ? { address: where.redis } : where.redis },
        retention: '1h',
        encryptionKeySecretRef: { name: KEY_SECRET, key: 'key' },
      },
      mcpServers: [{ name: 'tools', url: where.mcp, timeout: '20s' }],
      agent: { image: where.image, command: IDLE_AGENT },
    },
  });
}

const AGENT_SOURCE = stripTypeScriptTypes(
  readFileSync(new URL('./durableAgent.ts', import.meta.url), 'utf8'),
);

/** One finished step, as durableAgent.ts prints it. */
export interface StepLine {
  readonly step: number;
  readonly messageId: string;
  readonly isError?: boolean;
}

export interface AgentProcess {
  readonly lines: StepLine[];
  readonly exited: Promise<number | null>;
  readonly stderr: string[];
  /** Resolves once step `n` finished (at most 60 s). */
  step(n: number): Promise<StepLine>;
  /** Kills the `kubectl exec` (the program dies with the pod, or stays hung in it). */
  stop(): void;
}

/**
 * durableAgent.ts in `pod`'s agent container, pointed at its runtime sidecar with the pod's
 * own key (the environment the operator gives the container), naming run `run`: six steps of
 * `file_ticket` unless `env` says otherwise.
 */
export function runAgent(
  namespace: string,
  pod: PodView,
  run: string,
  env: Readonly<Record<string, string>> = {},
): AgentProcess {
  const settings = { RUN_ID: run, MODEL, TOOL: 'file_ticket', STEPS: '6', ...env };
  // Set before the program's body reads them (its imports are hoisted, its body is not).
  const program =
    `process.env.RUNTIME_URL = process.env.ANTHROPIC_BASE_URL;\n` +
    `process.env.API_KEY = process.env.ANTHROPIC_API_KEY;\n` +
    Object.entries(settings)
      .map(([k, v]) => `process.env[${JSON.stringify(k)}] = ${JSON.stringify(v)};\n`)
      .join('') +
    AGENT_SOURCE;
  const name = pod.metadata?.name ?? '';
  const child = spawn(
    kubectlPath(),
    [
      ...['--kubeconfig', kubeconfigPath(), 'exec', '-n', namespace, name, '-c', 'agent', '--'],
      ...['/nodejs/bin/node', '--input-type=module', '-e', program],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: StepLine[] = [];
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as StepLine | { finished: true };
    if ('step' in parsed) lines.push(parsed);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    lines,
    exited,
    stderr,
    step: (n: number) =>
      eventually(() => lines.find((l) => l.step === n), {
        timeoutMs: 60_000,
        description: `the agent in ${name} to finish step ${String(n)} (stderr: ${stderr.join('')})`,
      }),
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** `agent`'s one ready pod whose runtime journals in the store, other than the `not` uids. */
export function journalingPod(
  namespace: string,
  agent: string,
  not: ReadonlySet<string | undefined> = new Set(),
): Promise<PodView> {
  return eventually(
    async () => {
      const pods = (await agentPods(namespace, agent)).filter(
        (p) =>
          isPodReady(p) && !not.has(p.metadata?.uid) && p.metadata?.deletionTimestamp === undefined,
      );
      const pod = pods[0];
      const annotations = pod?.metadata?.annotations;
      const report = decodeDurableReport(annotations?.[DURABLE_RUNS_ANNOTATION]);
      // The runtime lists the MCP server's tools in the background: the agent calls them next.
      const tools = decodeMcpReport(annotations?.[MCP_ANNOTATION]).servers['tools'];
      return (
        pods.length === 1 && report?.store.state === 'Available' && tools?.reachable === true && pod
      );
    },
    {
      timeoutMs: 180_000,
      description: `one ready pod of ${agent} journaling in the store and listing the tools`,
    },
  );
}

/**
 * Each step's `file_ticket` effects among `effects` (the MCP server's, by title `step N <id>`),
 * less those already in `before`: what one run did, when runs follow one another.
 */
export function effectsByStep(
  effects: ReadonlyMap<string, number>,
  before: ReadonlyMap<string, number> = new Map(),
): [number, number][] {
  const out = new Map<number, number>();
  for (const [key, count] of effects) {
    const match = /^file_ticket:step (\d+) /.exec(key);
    if (match === null) continue;
    const added = count - (before.get(key) ?? 0);
    if (added !== 0) out.set(Number(match[1]), (out.get(Number(match[1])) ?? 0) + added);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]);
}

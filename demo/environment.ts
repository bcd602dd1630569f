/**
 * The demo environment: the local cluster, the CRDs, the LLM simulator (or the real API),
 * the operator for namespace breakwater-demo, the demo's policies and a three-replica agent,
 * and optionally Prometheus. `make demo` starts it and stops it; `make up` leaves it running
 * and `make down` stops it. Every step is recorded in `.breakwater/demo/state.json` before
 * the next begins, so a failure or Ctrl-C halfway stops exactly what had started.
 */
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { writeFile, mkdir } from 'node:fs/promises';
import { HttpKubeClient } from '../contract/src/kube/kubeClient.ts';
import type { KubeObject } from '../contract/src/kube/kubeObject.ts';
import { Kinds } from '../contract/src/kube/resourceKinds.ts';
import type { AgentDeployment, CircuitBreakerPolicy } from '../contract/src/api/resources.ts';
import { clusterDown, clusterStatus, clusterUp } from '../tools/cluster/controlPlane.ts';
import { acquireLock } from '../tools/cluster/lock.ts';
import {
  findLeftovers,
  identityOf,
  isAlive,
  killLeftovers,
  logTail,
  startDetached,
  stopProcess,
  type ProcessRecord,
} from '../tools/cluster/supervisor.ts';
import {
  AGENT_NAME,
  BREAKER_POLICY_NAME,
  DEMO_NAMESPACE,
  REPLICAS,
  demoLayout,
  type DemoLayout,
} from './demoLayout.ts';
import {
  readState,
  removeState,
  writeState,
  type DemoState,
  type ProcessName,
} from './demoState.ts';
import { kubectlFor, type Kubectl } from './kubectl.ts';
import {
  demoObjects,
  namespaceManifest,
  providerSecret,
  type ManifestObject,
  type Provider,
} from './manifests.ts';
import { agentPods, type AgentPod } from './agentPods.ts';
import { preparePrometheus, targetHealth, waitForPrometheus } from './prometheus.ts';
import { agentTargets, writeTargets } from './scrapeTargets.ts';
import { freePort } from './localPorts.ts';

export type Progress = (line: string) => void;

/** The environment variable every process the demo starts carries (the cluster's convention). */
const MARKER_VARIABLE = 'BREAKWATER_CLUSTER';
const NODE_ARGS = ['--no-warnings=ExperimentalWarning'];

const PROCESS_LABELS: Readonly<Record<ProcessName, string>> = {
  simulator: 'LLM simulator',
  operator: 'operator',
  prometheus: 'Prometheus',
  'scrape-targets': "Prometheus' target refresher",
};

export interface StartOptions {
  readonly purpose: 'demo' | 'up';
  /** Talk to the real API with this key instead of the simulator. */
  readonly anthropicApiKey?: string | undefined;
  readonly prometheus?: boolean;
  readonly progress: Progress;
  /** Ctrl-C: stop waiting (what already started is stopped by the caller). */
  readonly signal?: AbortSignal;
  readonly layout?: DemoLayout;
}

export interface Environment {
  readonly layout: DemoLayout;
  readonly state: DemoState;
  readonly kubectl: Kubectl;
  readonly client: HttpKubeClient;
  readonly provider: Provider;
  /** Present when the agent talks to the simulator: its fault-injection API. */
  readonly simulator: SimulatorControl | undefined;
  /** `make up` found this environment running and reused it. */
  readonly reused: boolean;
}

export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
}

/** Starts the environment, or (for `make up`) finds the one already running. */
export async function startEnvironment(options: StartOptions): Promise<Environment> {
  const layout = options.layout ?? demoLayout();
  const { progress } = options;
  const release = await acquireLock(layout.lockFile, progress, 10 * 60_000);
  try {
    const existing = await readState(layout.stateFile);
    if (existing !== undefined) {
      const reusable = await settleExisting(existing, options, layout);
      if (reusable !== undefined) return reusable;
    } else {
      await stopStrays(layout, [], progress);
    }
    try {
      return await startFresh(options, layout);
    } catch (err) {
      // Stop what did start; the caller only hears why it failed.
      const partial = await readState(layout.stateFile);
      if (partial !== undefined) {
        progress('stopping what was started');
        await stopRecorded(partial, layout, progress);
        await removeState(layout.stateFile);
      }
      throw err;
    }
  } finally {
    await release();
  }
}

/**
 * What to do about an environment a state file describes: refuse while a demo runs, reuse a
 * `make up` for another `make up`, and clean up after a run that died.
 */
async function settleExisting(
  existing: DemoState,
  options: StartOptions,
  layout: DemoLayout,
): Promise<Environment | undefined> {
  if (existing.owner !== undefined && isAlive(existing.owner)) {
    throw new EnvironmentError(
      `a demo is already running in this checkout (pid ${existing.owner.pid}); ` +
        'wait for it to finish or stop it with Ctrl-C',
    );
  }
  const living = Object.values(existing.processes).filter((p) => isAlive(p));
  const complete =
    existing.purpose === 'up' &&
    existing.owner === undefined &&
    existing.processes.operator !== undefined &&
    isAlive(existing.processes.operator);
  if (complete && options.purpose === 'up') {
    options.progress('the demo environment is already up; reusing it');
    return reuse(existing, options, layout);
  }
  if (complete) {
    throw new EnvironmentError(
      'the environment of `make up` is running: run `make down` first ' +
        '(the demo starts and stops its own)',
    );
  }
  if (living.length > 0 || existing.createdNamespace || existing.startedCluster) {
    options.progress('stopping what an earlier run left behind');
    await stopRecorded(existing, layout, options.progress);
  }
  await removeState(layout.stateFile);
  return undefined;
}

async function reuse(
  existing: DemoState,
  options: StartOptions,
  layout: DemoLayout,
): Promise<Environment> {
  const kubeconfig = required(existing.kubeconfig, 'kubeconfig');
  const kubectl = kubectlFor(required(existing.kubectl, 'kubectl'), kubeconfig);
  const client = HttpKubeClient.fromKubeconfig(kubeconfig);
  let state = existing;
  const prometheus = state.processes.prometheus;
  if (options.prometheus === true && (prometheus === undefined || !isAlive(prometheus))) {
    state = await addPrometheus(state, layout, options.progress);
  }
  const provider = required(state.provider, 'provider');
  return {
    layout,
    state,
    kubectl,
    client,
    provider,
    simulator: simulatorControl(state.endpoints.simulator),
    reused: true,
  };
}

async function startFresh(options: StartOptions, layout: DemoLayout): Promise<Environment> {
  const { progress, signal } = options;
  const sub = (line: string): void => {
    progress(`   ${line}`);
  };
  let state: DemoState = {
    version: 1,
    purpose: options.purpose,
    ...(options.purpose === 'demo' ? { owner: identityOf(process.pid) } : {}),
    startedAt: new Date().toISOString(),
    namespace: DEMO_NAMESPACE,
    startedCluster: false,
    createdNamespace: false,
    processes: {},
    endpoints: {},
  };
  const save = async (change: Partial<DemoState>): Promise<void> => {
    state = { ...state, ...change };
    await writeState(layout.stateFile, state);
  };
  await save({});

  progress('▸ local cluster (etcd, kube-apiserver, controller-manager, scheduler, local node)');
  const before = await clusterStatus();
  // Only a cluster that was not running at all becomes ours to stop.
  await save({ startedCluster: !before.components.some((c) => c.running) });
  const cluster = await clusterUp({ progress: sub });
  await save({ kubeconfig: cluster.kubeconfig, kubectl: cluster.kubectl });
  const kubectl = kubectlFor(cluster.kubectl, cluster.kubeconfig);
  const client = HttpKubeClient.fromKubeconfig(cluster.kubeconfig);
  checkAborted(signal);

  progress('▸ CRDs (kubectl apply --server-side -f crds/)');
  await kubectl([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    join(layout.repoRoot, 'crds'),
  ]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/agentdeployments.breakwater.dev',
    'crd/circuitbreakerpolicies.breakwater.dev',
    'crd/ratelimitpolicies.breakwater.dev',
  ]);
  checkAborted(signal);

  progress(`▸ namespace ${DEMO_NAMESPACE}`);
  await waitForNamespaceGone(client, sub, signal);
  await save({ createdNamespace: true });
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(namespaceManifest()) });
  await waitFor(
    async () => (await client.get(Kinds.ServiceAccount, DEMO_NAMESPACE, 'default')) !== undefined,
    { what: `ServiceAccount default in ${DEMO_NAMESPACE}`, timeoutMs: 30_000, signal },
  );

  let provider: Provider;
  if (options.anthropicApiKey === undefined) {
    progress('▸ LLM simulator (breakwater-llm-sim)');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const record = await startProcess(layout, 'simulator', [
      join(layout.repoRoot, 'simulator/src/main.ts'),
      '--port',
      String(port),
      '--seed',
      '7',
    ]);
    await save({
      processes: { ...state.processes, simulator: record },
      endpoints: { ...state.endpoints, simulator: url },
    });
    await waitForHttp(`${url}/health`, record, 'the simulator', signal);
    sub(`listening on ${url} (log ${relative(layout.repoRoot, record.logFile)})`);
    provider = { kind: 'simulator', url };
  } else {
    progress('▸ provider: the real Anthropic API (ANTHROPIC_API_KEY is set; no simulator)');
    provider = { kind: 'anthropic' };
  }
  await save({ provider });

  progress(`▸ operator (watching namespace ${DEMO_NAMESPACE} only)`);
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const operator = await startProcess(layout, 'operator', [
    join(layout.repoRoot, 'operator/src/main.ts'),
    '--kubeconfig',
    cluster.kubeconfig,
    '--namespace',
    DEMO_NAMESPACE,
    '--metrics-port',
    String(metricsPort),
    '--health-port',
    String(healthPort),
  ]);
  await save({
    processes: { ...state.processes, operator },
    endpoints: {
      ...state.endpoints,
      operatorMetrics: `http://127.0.0.1:${metricsPort}/metrics`,
      operatorHealth: `http://127.0.0.1:${healthPort}/readyz`,
    },
  });
  await waitForHttp(`http://127.0.0.1:${healthPort}/readyz`, operator, 'the operator', signal);
  sub(`ready (metrics :${metricsPort}, log ${relative(layout.repoRoot, operator.logFile)})`);

  progress(
    `▸ policies and a ${REPLICAS}-replica agent (${relative(layout.repoRoot, layout.manifestsFile)})`,
  );
  // The real key goes to kubectl's standard input and nowhere else.
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(providerSecret(options.anthropicApiKey)),
  });
  const objects = demoObjects(provider);
  await writeManifests(layout, provider, objects);
  const applied = await kubectl(['apply', '-f', layout.manifestsFile]);
  for (const line of applied.stdout.trim().split('\n')) sub(line);
  await waitForAgent(client, sub, signal);

  if (options.prometheus === true) state = await addPrometheus(state, layout, progress);

  return {
    layout,
    state,
    kubectl,
    client,
    provider,
    simulator: simulatorControl(state.endpoints.simulator),
    reused: false,
  };
}

/**
 * Prometheus and the process that keeps its list of agent pods current; each is recorded
 * in the state file as soon as it runs.
 */
async function addPrometheus(
  current: DemoState,
  layout: DemoLayout,
  progress: Progress,
): Promise<DemoState> {
  progress('▸ Prometheus (scraping the agent pods and the operator, Breakwater rules loaded)');
  let state = current;
  const save = async (change: Partial<DemoState>): Promise<void> => {
    state = { ...state, ...change };
    await writeState(layout.stateFile, state);
  };
  const kubeconfig = required(state.kubeconfig, 'kubeconfig');
  const previous = state.processes['scrape-targets'];
  if (previous !== undefined) await stopProcess(previous, { graceMs: 5_000 });
  const targetsFile = join(layout.prometheusDir, 'agent-targets.json');
  await mkdir(layout.prometheusDir, { recursive: true });
  await writeTargets(targetsFile, await agentTargets(HttpKubeClient.fromKubeconfig(kubeconfig)));
  const refresher = await startProcess(layout, 'scrape-targets', [
    join(layout.repoRoot, 'demo/targetRefresher.ts'),
    '--kubeconfig',
    kubeconfig,
    '--out',
    targetsFile,
  ]);
  await save({ processes: { ...state.processes, 'scrape-targets': refresher } });

  const prepared = await preparePrometheus({
    layout,
    operatorMetrics: required(state.endpoints.operatorMetrics, 'operator metrics'),
    targetsFile,
    progress: (line) => {
      progress(`   ${line}`);
    },
  });
  const prometheus = await startProcess(layout, 'prometheus', prepared.args, prepared.binary);
  await save({
    processes: { ...state.processes, prometheus },
    endpoints: { ...state.endpoints, prometheus: prepared.url },
  });
  await waitForPrometheus(prepared.url, prometheus);
  progress(
    `   ready at ${prepared.url} (config ${relative(layout.repoRoot, prepared.configFile)}, ` +
      `log ${relative(layout.repoRoot, prometheus.logFile)})`,
  );
  // The first scrapes come within one interval (5s): say what they found.
  await waitFor(
    async () => {
      const health = await targetHealth(prepared.url);
      const up = (job: string): number => health[job]?.['up'] ?? 0;
      if (up('breakwater-operator') < 1 || up('breakwater-agents') < REPLICAS) return false;
      progress(`   scraping the operator and ${up('breakwater-agents')} agent pods: all up`);
      return true;
    },
    { what: 'Prometheus to scrape the operator and every agent pod', timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    progress(`   ${errorMessage(err)}; see ${prepared.url}/targets`);
  });
  return state;
}

async function writeManifests(
  layout: DemoLayout,
  provider: Provider,
  objects: readonly ManifestObject[],
): Promise<void> {
  const header = [
    '# The demo environment as `make demo` / `make up` applied it (generated by demo/manifests.ts).',
    provider.kind === 'simulator'
      ? `# The agent calls the LLM simulator at ${provider.url}.`
      : '# The agent calls the real Anthropic API; its key is in Secret llm-provider-key.',
    '# The Secret llm-provider-key is applied separately.',
  ].join('\n');
  const docs = objects.map((object) => stringify(object, { lineWidth: 0 }).trimEnd());
  await mkdir(layout.dir, { recursive: true });
  await writeFile(layout.manifestsFile, `${header}\n---\n${docs.join('\n---\n')}\n`);
}

/** Waits until every replica is ready, has the policy applied and reaches its HTTP port. */
async function waitForAgent(
  client: HttpKubeClient,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const agent = await client.get<AgentDeployment>(
        Kinds.AgentDeployment,
        DEMO_NAMESPACE,
        AGENT_NAME,
      );
      const breaker = await client.get<CircuitBreakerPolicy>(
        Kinds.CircuitBreakerPolicy,
        DEMO_NAMESPACE,
        BREAKER_POLICY_NAME,
      );
      const pods = await agentPods(client);
      const ready = agent?.status?.readyReplicas ?? 0;
      const applied = agent?.status?.policy?.appliedReplicas ?? 0;
      const reachable = pods.filter((p) => p.ready).length;
      const now = `${ready}/${REPLICAS} ready, policy on ${applied}/${REPLICAS}, breaker ${breaker?.status?.state ?? 'unknown'}`;
      if (now !== last) {
        progress(`${AGENT_NAME}: ${now}`);
        last = now;
      }
      return (
        ready === REPLICAS &&
        applied === REPLICAS &&
        reachable === REPLICAS &&
        breaker?.status?.state === 'Closed'
      );
    },
    { what: `AgentDeployment ${AGENT_NAME} to be ready`, timeoutMs: 180_000, signal },
  );
}

async function waitForNamespaceGone(
  client: HttpKubeClient,
  progress: Progress,
  signal: AbortSignal | undefined,
): Promise<void> {
  const namespace = await client.get<KubeObject & { status?: { phase?: string } }>(
    Kinds.Namespace,
    undefined,
    DEMO_NAMESPACE,
  );
  if (namespace?.status?.phase !== 'Terminating') return;
  progress(`namespace ${DEMO_NAMESPACE} from an earlier run is still terminating; waiting`);
  await waitFor(
    async () => (await client.get(Kinds.Namespace, undefined, DEMO_NAMESPACE)) === undefined,
    { what: `namespace ${DEMO_NAMESPACE} to be deleted`, timeoutMs: 120_000, signal },
  );
}

export interface StopReport {
  readonly stopped: readonly string[];
  readonly leftovers: readonly number[];
}

/** Stops what the state file says was started; safe to call when nothing runs. */
export async function stopEnvironment(
  progress: Progress,
  layout: DemoLayout = demoLayout(),
): Promise<StopReport> {
  const release = await acquireLock(layout.lockFile, progress, 10 * 60_000);
  try {
    const state = await readState(layout.stateFile);
    if (state === undefined) {
      const leftovers = await stopStrays(layout, [], progress);
      progress('nothing of the demo environment was running');
      return { stopped: [], leftovers };
    }
    const report = await stopRecorded(state, layout, progress);
    await removeState(layout.stateFile);
    return report;
  } finally {
    await release();
  }
}

async function stopRecorded(
  state: DemoState,
  layout: DemoLayout,
  progress: Progress,
): Promise<StopReport> {
  const stopped: string[] = [];
  const client =
    state.kubeconfig === undefined ? undefined : HttpKubeClient.fromKubeconfig(state.kubeconfig);
  const kubectl =
    state.kubectl === undefined || state.kubeconfig === undefined
      ? undefined
      : kubectlFor(state.kubectl, state.kubeconfig);

  // A cluster we started goes down whole; in a cluster that was there before, our namespace
  // goes (its pods, which the local node runs as processes, with it).
  if (!state.startedCluster && state.createdNamespace && kubectl !== undefined && client) {
    progress(`▸ deleting namespace ${DEMO_NAMESPACE} (the agent's pods stop with it)`);
    const deleted = await kubectl(
      ['delete', 'namespace', DEMO_NAMESPACE, '--ignore-not-found', '--wait=false'],
      { allowFailure: true },
    );
    if (deleted.code === 0) {
      await waitFor(
        async () => (await agentPods(client, { includeTerminating: true })).length === 0,
        {
          what: `the pods of ${DEMO_NAMESPACE} to stop`,
          timeoutMs: 60_000,
        },
      ).catch((err: unknown) => {
        progress(`   ${errorMessage(err)}`);
      });
      stopped.push(`namespace ${DEMO_NAMESPACE}`);
    } else {
      progress(`   could not delete it: ${deleted.stderr.trim()}`);
    }
  }

  const order: ProcessName[] = ['prometheus', 'scrape-targets', 'operator', 'simulator'];
  for (const name of order) {
    const record = state.processes[name];
    if (record === undefined) continue;
    const outcome = await stopProcess(record, { graceMs: 10_000 });
    if (outcome !== 'not-running') {
      progress(
        `▸ stopped the ${PROCESS_LABELS[name]} (pid ${record.pid}${outcome === 'killed' ? ', killed' : ''})`,
      );
      stopped.push(PROCESS_LABELS[name]);
    }
  }

  if (state.startedCluster) {
    progress('▸ stopping the local cluster (the demo started it)');
    await clusterDown({
      progress: (line) => {
        progress(`   ${line}`);
      },
    });
    stopped.push('local cluster');
  } else if (state.kubeconfig !== undefined) {
    progress(
      '▸ the local cluster keeps running (it was running before); `make cluster-down` stops it',
    );
  }

  const records: ProcessRecord[] = Object.values(state.processes);
  const leftovers = await stopStrays(layout, records, progress);
  return { stopped, leftovers };
}

/** Any process that carries the demo's marker or lives in a session the demo started. */
async function stopStrays(
  layout: DemoLayout,
  records: readonly ProcessRecord[],
  progress: Progress,
): Promise<number[]> {
  const strays = findLeftovers(layout.dir, records);
  if (strays.length > 0) {
    progress(`▸ stopping ${strays.length} leftover process(es): ${strays.join(', ')}`);
    await killLeftovers(() => findLeftovers(layout.dir, records), 5_000);
  }
  return strays;
}

async function startProcess(
  layout: DemoLayout,
  name: ProcessName,
  args: readonly string[],
  command: string = process.execPath,
): Promise<ProcessRecord> {
  const started = await startDetached({
    component: name,
    command,
    args: command === process.execPath ? [...NODE_ARGS, ...args] : args,
    cwd: layout.repoRoot,
    env: { ...process.env, [MARKER_VARIABLE]: layout.dir },
    logFile: join(layout.logDir, `${name}.log`),
    pidFile: join(layout.runDir, `${name}.pid`),
  });
  return started.record;
}

async function waitForHttp(
  url: string,
  record: ProcessRecord,
  what: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await waitFor(
    async () => {
      if (!isAlive(record)) {
        throw new EnvironmentError(
          `${what} exited during start; last lines of ${record.logFile}:\n${logTail(record.logFile) ?? ''}`,
        );
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        return response.ok;
      } catch {
        return false;
      }
    },
    { what: `${what} to answer ${url}`, timeoutMs: 60_000, signal, fatal: EnvironmentError },
  );
}

export interface WaitOptions {
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  readonly signal?: AbortSignal | undefined;
  /** Errors of this class end the wait at once instead of counting as "not yet". */
  readonly fatal?: new (...args: never[]) => Error;
}

/** Polls until `probe` is true; says what it waited for when it gives up. */
export async function waitFor(probe: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    checkAborted(options.signal);
    try {
      if (await probe()) return;
    } catch (err) {
      if (options.fatal !== undefined && err instanceof options.fatal) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new EnvironmentError(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${options.what}${why}`,
      );
    }
    await sleep(options.intervalMs ?? 500);
  }
}

export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor() {
    super('interrupted');
  }
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new Interrupted();
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new EnvironmentError(
      `the demo's state file has no ${what}; run \`make down\` and start again`,
    );
  }
  return value;
}

/** The simulator's run-time fault injection (simulator/src/README.md). */
export interface SimulatorControl {
  readonly url: string;
  injectFault(fault: Readonly<Record<string, unknown>>): Promise<void>;
  clearFaults(): Promise<void>;
  stats(): Promise<{ requests: number; byOutcome: Record<string, number> }>;
}

function simulatorControl(url: string | undefined): SimulatorControl | undefined {
  if (url === undefined) return undefined;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`simulator ${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url,
    injectFault: async (fault) => {
      await call('DELETE', '/_sim/faults');
      await call('POST', '/_sim/faults', fault);
    },
    clearFaults: async () => {
      await call('DELETE', '/_sim/faults');
    },
    stats: async () =>
      (await call('GET', '/_sim/stats')) as { requests: number; byOutcome: Record<string, number> },
  };
}

export type { AgentPod };

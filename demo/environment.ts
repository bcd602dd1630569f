/**
 * The demo environment: the kind cluster (tools/clusterAccess.ts), the CRDs, the LLM simulator (or the real API),
 * the operator for namespace breakwater-demo, the demo's policies and a three-replica agent,
 * and optionally Prometheus. `make demo` starts it and stops it; `make up` leaves it running
 * and `make down` stops it. Every step is recorded in `.breakwater/demo/state.json` before
 * the next begins, so a failure or Ctrl-C halfway stops exactly what had started.
 */
import { isIP } from 'node:net';
import { join, relative } from 'node:path';
import { HttpKubeClient } from '../platform/src/kube/httpKubeClient.ts';
import { Kinds } from '../platform/src/kube/resourceKinds.ts';
import { kubectlFor, type Kubectl } from '../tools/cluster/kubectl.ts';
import { acquireLock } from '../tools/cluster/lock.ts';
import { identityOf, isAlive } from '../tools/cluster/supervisor.ts';
import { waitForAgent, waitForNamespaceGone } from './agentReadiness.ts';
import { kindClusterHandle } from '../tools/clusterAccess.ts';
import { DEMO_NAMESPACE, REPLICAS, demoLayout, type DemoLayout } from './demoLayout.ts';
import { startProcess, waitForHttp } from './demoProcesses.ts';
import { readState, removeState, writeState, type DemoState } from './demoState.ts';
import { EnvironmentError, required } from './environmentError.ts';
import { stopRecorded, stopStrays } from './environmentStop.ts';
import { checkAborted } from './interrupts.ts';
import { freePort } from './localPorts.ts';
import {
  demoObjects,
  namespaceManifest,
  providerSecret,
  writeManifests,
  type Provider,
} from './manifests.ts';
import { addPrometheus } from './prometheusStart.ts';
import { startPortForwards } from './portForwardStart.ts';
import { chooseReach, reachFacts, reachLine, settleReach } from './reach.ts';
import type { Progress } from '../tools/cluster/progress.ts';
import { simulatorControl, type SimulatorControl } from './simulatorControl.ts';
import { waitFor } from './waitFor.ts';

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
  /** The port-forward reach's map (demo/portForwards.ts); undefined in the routes reach. */
  readonly forwardsFile: string | undefined;
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
  const forwarder = state.processes['port-forwards'];
  if (state.reach?.mode === 'port-forward' && (forwarder === undefined || !isAlive(forwarder))) {
    options.progress('   the port-forwards had stopped; starting them again');
    state = await startPortForwards(state, layout, client, options.progress, options.signal);
  }
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
    forwardsFile: state.reach?.forwardsFile,
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

  // Chosen before the cluster comes up: kind-cluster.sh routes the pod network only for routes.
  let reach = chooseReach(reachFacts());
  process.env['BREAKWATER_REACH'] = reach.mode;
  const cluster = kindClusterHandle();
  progress(`▸ ${cluster.description}`);
  // Only a cluster that was not running at all becomes ours to take down.
  await save({ cluster: cluster.name, startedCluster: !(await cluster.running()) });
  const access = await cluster.up(sub);
  await save({ kubeconfig: access.kubeconfig, kubectl: access.kubectl });
  const { podHost } = access;
  reach = settleReach(reach, access.env['BREAKWATER_CLUSTER_ROUTED'] === '1');
  progress(reachLine(reach));
  await save({ reach });
  const kubectl = kubectlFor(access.kubectl, access.kubeconfig);
  const client = HttpKubeClient.fromKubeconfig(access.kubeconfig);
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
    // On the host's address, where the agent's pods reach it. Where that is a name
    // (host.docker.internal: Docker Desktop forwards it to this machine) it listens on every
    // address, and this machine calls it on loopback.
    const port = await freePort();
    const url = `http://${podHost}:${port}`;
    const local = isIP(podHost) === 0 ? `http://127.0.0.1:${port}` : url;
    const record = await startProcess(layout, 'simulator', [
      join(layout.repoRoot, 'simulator/src/main.ts'),
      '--host',
      isIP(podHost) === 0 ? '0.0.0.0' : podHost,
      '--port',
      String(port),
      '--seed',
      '7',
    ]);
    await save({
      processes: { ...state.processes, simulator: record },
      endpoints: { ...state.endpoints, simulator: local },
    });
    await waitForHttp(`${local}/health`, record, 'the simulator', signal);
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
    access.kubeconfig,
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
  if (reach.mode === 'port-forward') {
    state = await startPortForwards(state, layout, client, progress, signal);
  }

  if (options.prometheus === true) state = await addPrometheus(state, layout, progress);

  return {
    layout,
    state,
    kubectl,
    client,
    provider,
    simulator: simulatorControl(state.endpoints.simulator),
    reused: false,
    forwardsFile: state.reach?.forwardsFile,
  };
}

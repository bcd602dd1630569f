/**
 * Everything the local node does for one pod: give it ports (its "sandbox"), mount its Secret
 * and ConfigMap volumes, run its init containers one by one and then its containers (as
 * processes, or as podman containers in container mode: containerMode.ts), keep its status
 * true, and on deletion stop every process (SIGTERM, grace period, SIGKILL) before removing
 * the pod object, which is kubelet's last word on a pod.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../../platform/src/time/clock.ts';
import { isNotFound, type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { ProcessLauncher } from './containerProcess.ts';
import type { ContainerMode } from './containerMode.ts';
import { containerRunArgs } from './containerRunArgs.ts';
import { containerMounts } from './containerVolumes.ts';
import { ContainerWorker, type ContainerHistory, type Preparation } from './containerWorker.ts';
import { buildEnvironment, fetchSources, referencedSources } from './envResolution.ts';

type ResolvedEnv = Extract<ReturnType<typeof buildEnvironment>, { ok: true }>['env'];
import { resolveLaunch, type ImageTable } from './imageTable.ts';
import { errorMessage, type Logger } from './log.ts';
import {
  namedPorts,
  portsAnnotation,
  portsFromAnnotation,
  resolvePort,
  type PortAllocator,
  type PortMap,
} from './portAllocation.ts';
import type { ProcessRecords, PodIdentity } from './processRecords.ts';
import { buildPodStatus, containerHistory, podPhase, type PodSnapshot } from './podStatus.ts';
import {
  podRef,
  type Container,
  type ContainerStatus,
  type Pod,
  type RestartPolicy,
} from './podTypes.ts';
import { restartDelayMs, type BackoffPolicy } from './restartBackoff.ts';
import {
  ServiceAccountCredentials,
  wantsServiceAccountToken,
  type ClusterAccess,
} from './serviceAccountCredentials.ts';
import type { PodEventRecorder } from './podEvents.ts';
import { SecretVolumes } from './secretVolumes.ts';
import { PodStatusWriter } from './statusWriter.ts';
import { expandVariables, lookupIn } from './variableExpansion.ts';
import { hostMounts, translateMountPaths } from './volumeMounts.ts';

export interface PodWorkerDeps {
  readonly client: Pick<KubeClient, 'get' | 'patch' | 'applyStatus' | 'create' | 'delete'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly backoff: BackoffPolicy;
  /** How often the pod's Secret volumes are read again (kubelet: its sync period). */
  readonly secretVolumeSyncMs: number;
  readonly launcher: ProcessLauncher;
  readonly ports: PortAllocator;
  /** The image table, read afresh for each container start so edits apply without a restart. */
  readonly images: () => Promise<ImageTable>;
  readonly records: ProcessRecords;
  /** Every pod's IP (status.podIP and its fieldRef): 127.0.0.1 unless --pod-ip says otherwise. */
  readonly podIP: string;
  /** The environment every process starts from (PATH, HOME, ...), before the pod's own. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly cluster: ClusterAccess;
  readonly events: PodEventRecorder;
  /** Container mode, when podman is at hand; undefined runs every pod as processes. */
  readonly containers?: ContainerMode | undefined;
}

export interface TerminateOptions {
  readonly graceMs: number;
  /** Delete the pod object once the processes are gone (false when it is already gone). */
  readonly deleteObject: boolean;
}

/** What the pod manager needs from a pod's worker. */
export interface PodRunner {
  readonly uid: string;
  /** The pod's grace period: deletionGracePeriodSeconds, else terminationGracePeriodSeconds. */
  readonly gracePeriodMs: number;
  start(): void;
  update(pod: Pod): void;
  terminate(options: TerminateOptions): Promise<void>;
}

const defaultGraceSeconds = 30;

export function gracePeriodMs(pod: Pod): number {
  const seconds =
    pod.metadata.deletionGracePeriodSeconds ??
    pod.spec.terminationGracePeriodSeconds ??
    defaultGraceSeconds;
  return Math.max(0, seconds) * 1000;
}

export class PodWorker implements PodRunner {
  readonly #deps: PodWorkerDeps;
  readonly #log: Logger;
  readonly #identity: PodIdentity;
  readonly #dir: string;
  readonly #startTime: number;
  readonly #writer: PodStatusWriter;
  readonly #credentials: ServiceAccountCredentials | undefined;
  readonly #volumes: SecretVolumes;
  readonly #init: ContainerWorker[];
  readonly #main: ContainerWorker[];
  #pod: Pod;
  #ports: PortMap = {};
  #portsHeld = false;
  #sandboxReady = false;
  #initialized: boolean;
  #stopping = false;
  #deleteObject = true;
  #termination: Promise<void> | undefined;
  #cleanedUp = false;

  constructor(pod: Pod, deps: PodWorkerDeps) {
    this.#pod = pod;
    this.#deps = deps;
    this.#identity = {
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      uid: pod.metadata.uid ?? '',
    };
    this.#log = deps.log.child({ pod: podRef(pod), uid: this.#identity.uid });
    this.#dir = deps.records.podDir(this.#identity);
    const startTime = Date.parse(pod.status?.startTime ?? '');
    this.#startTime = Number.isNaN(startTime) ? deps.clock.now() : startTime;
    this.#writer = new PodStatusWriter({
      client: deps.client,
      clock: deps.clock,
      log: this.#log,
      namespace: this.#identity.namespace,
      name: this.#identity.name,
      initial: pod.status,
      build: (previous, now) => buildPodStatus(this.#pod, this.#snapshot(), previous, now),
    });
    this.#credentials = wantsServiceAccountToken(pod)
      ? new ServiceAccountCredentials({
          client: deps.client,
          clock: deps.clock,
          log: this.#log,
          pod,
          dir: join(this.#dir, `serviceaccount-${this.#identity.uid}`),
          cluster: deps.cluster,
        })
      : undefined;
    this.#volumes = new SecretVolumes({
      pod,
      client: deps.client,
      clock: deps.clock,
      log: this.#log,
      dir: join(this.#dir, 'volumes'),
      syncMs: deps.secretVolumeSyncMs,
    });

    const restartPolicy = pod.spec.restartPolicy ?? 'Always';
    const initContainers = pod.spec.initContainers ?? [];
    this.#initialized = initContainers.length === 0;
    const history = (
      statuses: ContainerStatus[] | undefined,
      name: string,
      policy: RestartPolicy,
    ) =>
      containerHistory(
        statuses?.find((s) => s.name === name),
        policy,
      );
    // Init containers run to completion: retried on failure unless the pod never restarts.
    const initPolicy: RestartPolicy = restartPolicy === 'Never' ? 'Never' : 'OnFailure';
    this.#init = initContainers.map((c) =>
      this.#containerWorker(
        c,
        initPolicy,
        history(pod.status?.initContainerStatuses, c.name, initPolicy),
        false,
      ),
    );
    this.#main = pod.spec.containers.map((c) =>
      this.#containerWorker(
        c,
        restartPolicy,
        history(pod.status?.containerStatuses, c.name, restartPolicy),
        true,
      ),
    );
  }

  get uid(): string {
    return this.#identity.uid;
  }

  get gracePeriodMs(): number {
    return gracePeriodMs(this.#pod);
  }

  start(): void {
    this.#log.info('pod assigned to the local node');
    this.#run().catch((err: unknown) => {
      this.#log.error('pod worker failed', { error: errorMessage(err) });
    });
  }

  /** The latest object from the watch: labels and annotations feed fieldRef env at each start. */
  update(pod: Pod): void {
    if (pod.metadata.uid === this.#identity.uid) this.#pod = pod;
  }

  terminate(options: TerminateOptions): Promise<void> {
    if (!options.deleteObject) this.#deleteObject = false;
    const first = !this.#stopping;
    this.#stopping = true;
    this.#writer.stop();
    if (first) this.#log.info('stopping pod', { graceMs: options.graceMs });
    // Called again with a shorter grace (a forced delete), this brings SIGKILL forward.
    const stops = [...this.#init, ...this.#main].map((w) => w.stop(options.graceMs));
    this.#termination ??= (async () => {
      await Promise.all(stops);
      await this.#cleanUp();
      if (this.#deleteObject) await this.#deletePodObject();
      this.#log.info('pod stopped');
    })();
    return this.#termination;
  }

  async #run(): Promise<void> {
    this.#writer.request();
    if (!(await this.#setUpSandbox())) return;
    for (const worker of this.#init) {
      if (this.#stopping) return;
      worker.start();
      await worker.whenDone;
      const state = worker.snapshot().state;
      if (state.kind === 'terminated' && state.exitCode !== 0) {
        // Only with restartPolicy Never does a failed init container end the pod.
        if (!this.#isStopping()) await this.#finish();
        return;
      }
    }
    if (this.#stopping) return;
    this.#initialized = true;
    for (const worker of this.#main) worker.start();
    this.#writer.request();
    await Promise.all(this.#main.map((w) => w.whenDone));
    if (!this.#isStopping()) await this.#finish();
  }

  /** Ports for every named container port, recorded on the pod. Retries until it works or the pod goes. */
  async #setUpSandbox(): Promise<boolean> {
    const names = namedPorts(this.#pod);
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        if (!this.#portsHeld) {
          const ports = await this.#deps.ports.allocate(names, portsFromAnnotation(this.#pod));
          if (this.#isStopping()) {
            this.#deps.ports.release(ports); // deleted meanwhile: cleanup already ran
            return false;
          }
          this.#ports = ports;
          this.#portsHeld = true;
        }
        const json = JSON.stringify(this.#ports);
        if (names.length > 0 && this.#pod.metadata.annotations?.[portsAnnotation] !== json) {
          await this.#deps.client.patch(
            Kinds.Pod,
            this.#identity.namespace,
            this.#identity.name,
            { metadata: { annotations: { [portsAnnotation]: json } } },
            'merge',
          );
        }
        if (names.length > 0) this.#log.info('ports allocated', { ports: this.#ports });
        this.#sandboxReady = true;
        this.#writer.request();
        return true;
      } catch (err) {
        if (isNotFound(err)) return false; // deleted meanwhile: the watch says so next
        const delay = restartDelayMs(this.#deps.backoff, attempt + 1);
        this.#log.warn('cannot set up the pod yet; retrying', {
          error: errorMessage(err),
          retryInMs: delay,
        });
        await pause(this.#deps.clock, delay);
      }
    }
    return false;
  }

  async #prepare(container: Container): Promise<Preparation> {
    const containers = this.#deps.containers;
    if (containers !== undefined) {
      try {
        if (await containers.applies(this.#identity.namespace)) {
          return await this.#prepareContainer(container, containers);
        }
      } catch (err) {
        return { ok: false, reason: 'CreateContainerConfigError', message: errorMessage(err) };
      }
    }
    return this.#prepareProcess(container);
  }

  async #prepareProcess(container: Container): Promise<Preparation> {
    let table: ImageTable;
    try {
      table = await this.#deps.images();
    } catch (err) {
      return { ok: false, reason: 'ErrImagePull', message: errorMessage(err) };
    }
    const resolved = await this.#mountAndResolveEnv(container);
    if (!resolved.ok) return resolved;
    const containerEnv = translateMountPaths(
      resolved.env,
      hostMounts(container, (volume) => this.#volumes.hostPath(volume)),
    );
    const launch = resolveLaunch(table, container, (value) =>
      expandVariables(value, lookupIn(containerEnv)),
    );
    if (!launch.ok) return launch;
    let kubeconfig: string | undefined;
    if (this.#credentials !== undefined) {
      try {
        kubeconfig = await this.#credentials.ensure();
      } catch (err) {
        return { ok: false, reason: 'CreateContainerConfigError', message: errorMessage(err) };
      }
    }
    const env: Record<string, string> = {
      ...this.#deps.baseEnv,
      HOSTNAME: this.#identity.name,
      ...launch.entry.env,
      ...Object.fromEntries(containerEnv),
      ...(kubeconfig === undefined ? {} : { KUBECONFIG: kubeconfig }),
    };
    const cwd = launch.entry.workingDir ?? this.#dir;
    return {
      ok: true,
      launch: {
        argv: launch.argv,
        env,
        cwd,
        logPath: join(this.#dir, `${container.name}.log`),
      },
      probeTarget: {
        // Probes go through loopback, which reaches a process however it binds locally.
        host: '127.0.0.1',
        resolvePort: (port) => resolvePort(port, this.#pod, container, this.#ports),
        env,
        cwd,
      },
    };
  }

  /**
   * What both modes do first: mount the pod's volumes (kubelet mounts them before any of its
   * containers starts) and resolve the container's environment from the pod and its sources.
   */
  async #mountAndResolveEnv(container: Container): Promise<
    | { readonly ok: true; readonly env: ResolvedEnv }
    | {
        readonly ok: false;
        readonly reason: 'CreateContainerConfigError';
        readonly message: string;
      }
  > {
    const mounted = await this.#volumes.mount();
    if (!mounted.ok) {
      return { ok: false, reason: 'CreateContainerConfigError', message: mounted.message };
    }
    const sources = await fetchSources(
      this.#deps.client,
      this.#identity.namespace,
      referencedSources(container),
    );
    const resolved = buildEnvironment({
      pod: this.#pod,
      container,
      ports: this.#ports,
      podIP: this.#deps.podIP,
      sources,
    });
    if (!resolved.ok) {
      return { ok: false, reason: 'CreateContainerConfigError', message: resolved.message };
    }
    return { ok: true, env: resolved.env };
  }

  /** Container mode: `podman run` of the pod's image, as containerRunArgs.ts translates the pod. */
  async #prepareContainer(container: Container, mode: ContainerMode): Promise<Preparation> {
    const pod = this.#pod;
    const image = container.image ?? '';
    const config = await mode.runtime.image(image);
    if (config === undefined) {
      return {
        ok: false,
        reason: 'ErrImageNeverPull',
        message: `Container image "${image}" is not present in podman's local storage, and the local node pulls nothing (make image builds Breakwater's)`,
      };
    }
    const resolved = await this.#mountAndResolveEnv(container);
    if (!resolved.ok) return resolved;
    if (this.#credentials !== undefined) {
      try {
        await this.#credentials.ensure();
      } catch (err) {
        return { ok: false, reason: 'CreateContainerConfigError', message: errorMessage(err) };
      }
    }
    const mounts = containerMounts(pod, container, {
      kept: (volume) => this.#volumes.hostPath(volume),
      emptyDirRoot: join(this.#dir, 'empty-dirs'),
      serviceAccount: this.#credentials?.projectedDir,
    });
    if (!mounts.ok) {
      return { ok: false, reason: 'CreateContainerConfigError', message: mounts.message };
    }
    for (const dir of mounts.emptyDirs) {
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o777);
    }
    // Kubernetes sets the API server's service variables in every container; the pod's own win.
    const env = new Map([...mode.serviceEnv, ...resolved.env]);
    const name = `k8s_${container.name}_${this.#identity.name}_${this.#identity.namespace}_${this.#identity.uid}`;
    const run = containerRunArgs({
      pod,
      container,
      name,
      image,
      imageUser: config.user,
      env,
      mounts: mounts.mounts,
    });
    if (!run.ok) return run;
    const cwd = this.#dir;
    await mkdir(cwd, { recursive: true });
    return {
      ok: true,
      launch: mode.runtime.launchSpec(name, run.args, {
        env: { ...this.#deps.baseEnv },
        cwd,
        logPath: join(this.#dir, `${container.name}.log`),
      }),
      probeTarget: {
        // Host networking: the container's ports are this host's.
        host: '127.0.0.1',
        resolvePort: (port) => resolvePort(port, this.#pod, container, this.#ports),
        env: { ...this.#deps.baseEnv },
        cwd,
      },
    };
  }

  #containerWorker(
    container: Container,
    restartPolicy: RestartPolicy,
    history: ContainerHistory,
    regular: boolean,
  ): ContainerWorker {
    const pod = this.#pod;
    return new ContainerWorker({
      name: container.name,
      image: container.image ?? '',
      podRef: podRef(pod),
      restartPolicy,
      // Kubelet runs no probes on init containers.
      probes: regular
        ? {
            startup: container.startupProbe,
            liveness: container.livenessProbe,
            readiness: container.readinessProbe,
          }
        : {},
      waitingReason: regular && !this.#initialized ? 'PodInitializing' : 'ContainerCreating',
      gracePeriodMs: (pod.spec.terminationGracePeriodSeconds ?? defaultGraceSeconds) * 1000,
      clock: this.#deps.clock,
      backoff: this.#deps.backoff,
      launcher: this.#deps.launcher,
      prepare: () => this.#prepare(container),
      onChange: () => {
        this.#writer.request();
      },
      onProcess: (pid) => {
        this.#deps.records.setProcess(this.#identity, container.name, pid);
      },
      log: this.#log.child({ container: container.name }),
      onEvent: this.#deps.events.forContainer(
        pod,
        container.name,
        regular ? 'containers' : 'initContainers',
      ),
      history,
    });
  }

  // A method, not a field read, so flow analysis does not assume it is unchanged across awaits.
  #isStopping(): boolean {
    return this.#stopping;
  }

  #snapshot(): PodSnapshot {
    return {
      initContainers: this.#init.map((w) => w.snapshot()),
      containers: this.#main.map((w) => w.snapshot()),
      initialized: this.#initialized,
      sandboxReady: this.#sandboxReady,
      startTime: this.#startTime,
      podIP: this.#deps.podIP,
    };
  }

  /** Every container is done for good: write the final phase and let go of the pod's resources. */
  async #finish(): Promise<void> {
    this.#writer.request();
    await this.#writer.flush();
    this.#log.info('pod finished', { phase: podPhase(this.#snapshot()) });
    await this.#cleanUp();
  }

  async #cleanUp(): Promise<void> {
    if (this.#cleanedUp) return;
    this.#cleanedUp = true;
    this.#deps.ports.release(this.#ports);
    this.#deps.records.forget(this.#identity);
    await this.#credentials?.stop();
    await this.#volumes.stop();
  }

  /** Kubelet's last act: remove the object, but only the one this worker ran (same uid). */
  async #deletePodObject(): Promise<void> {
    const { namespace, name, uid } = this.#identity;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const current = await this.#deps.client.get<Pod>(Kinds.Pod, namespace, name);
        if (current?.metadata.uid !== uid) return;
        await this.#deps.client.delete(Kinds.Pod, namespace, name, 0);
        return;
      } catch (err) {
        this.#log.warn('cannot delete the pod object yet', { error: errorMessage(err), attempt });
        await pause(this.#deps.clock, 1_000 * 2 ** attempt);
      }
    }
  }
}

function pause(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}

/**
 * The local node's Node object and its heartbeats, as kubelet keeps them: register the Node
 * (Ready, with capacity so the scheduler places pods on it), renew its Lease in
 * kube-node-lease every few seconds, and post node status now and then. The node lifecycle
 * controller watches both; if they stop, it marks the node unreachable and evicts its pods.
 */
import { arch, hostname, release, version } from 'node:os';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import { isNotFound, type KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';
import { Kinds, type ResourceKind } from '../../../platform/src/kube/resourceKinds.ts';
import { errorMessage, type Logger } from './log.ts';
import { wireTime } from './podTypes.ts';

export const NodeKind: ResourceKind = {
  apiVersion: 'v1',
  kind: 'Node',
  plural: 'nodes',
  namespaced: false,
};

const leaseNamespace = 'kube-node-lease';

/**
 * What the scheduler may place here. Generous on purpose: nothing is enforced on local
 * processes, and a small development machine should not leave test pods Pending.
 */
export const defaultCapacity: Readonly<Record<string, string>> = {
  cpu: '16',
  memory: '64Gi',
  'ephemeral-storage': '100Gi',
  pods: '110',
};

interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

interface NodeStatus {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  conditions: NodeCondition[];
  addresses: { type: string; address: string }[];
  daemonEndpoints: { kubeletEndpoint: { Port: number } };
  nodeInfo: Record<string, string>;
}

interface NodeObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: NodeStatus;
}

interface Lease extends KubeObject {
  spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
}

export interface NodeAgentOptions {
  readonly client: Pick<KubeClient, 'get' | 'create' | 'patch'>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly nodeName: string;
  readonly address: string;
  readonly kubeletVersion: string;
  readonly capacity?: Readonly<Record<string, string>>;
  /** @default 40 (kubelet's) */
  readonly leaseDurationSeconds?: number;
  /** @default 10000 (a quarter of the lease, like kubelet) */
  readonly leaseRenewMs?: number;
  /** @default 60000 */
  readonly statusIntervalMs?: number;
}

/** The status kubelet posts: Ready and no pressure; times kept unless a condition flips. */
export function buildNodeStatus(
  options: Pick<NodeAgentOptions, 'nodeName' | 'address' | 'kubeletVersion' | 'capacity'>,
  now: number,
  previous: readonly NodeCondition[] | undefined,
): NodeStatus {
  const time = wireTime(now);
  const condition = (
    type: string,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): NodeCondition => {
    const before = previous?.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: time,
      lastTransitionTime: before?.status === status ? before.lastTransitionTime : time,
    };
  };
  const capacity = { ...(options.capacity ?? defaultCapacity) };
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      condition(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'local node has sufficient memory available',
      ),
      condition(
        'DiskPressure',
        'False',
        'KubeletHasNoDiskPressure',
        'local node has no disk pressure',
      ),
      condition(
        'PIDPressure',
        'False',
        'KubeletHasSufficientPID',
        'local node has sufficient PID available',
      ),
      condition(
        'Ready',
        'True',
        'KubeletReady',
        'local node is posting ready status (pods run as local processes)',
      ),
    ],
    addresses: [
      { type: 'InternalIP', address: options.address },
      { type: 'Hostname', address: options.nodeName },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: release(),
      osImage: `${version()} (${hostname()})`,
      containerRuntimeVersion: 'local-processes://0.1.0',
      kubeletVersion: options.kubeletVersion,
      operatingSystem: 'linux',
      architecture: goArch(),
    },
  };
}

export class NodeAgent {
  readonly #o: NodeAgentOptions;
  #uid = '';
  #conditions: NodeCondition[] | undefined;
  #leaseTimer: Cancel | undefined;
  #statusTimer: Cancel | undefined;
  #stopped = false;

  constructor(options: NodeAgentOptions) {
    this.#o = options;
  }

  /** Creates the Node when missing and posts a fresh status. */
  async register(): Promise<void> {
    const { client, nodeName } = this.#o;
    let node = await client.get<NodeObject>(NodeKind, undefined, nodeName);
    if (node === undefined) {
      node = await client.create<NodeObject>(NodeKind, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: nodeName,
          labels: {
            'kubernetes.io/hostname': nodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': goArch(),
            'breakwater.dev/local-node': 'true',
          },
        },
        spec: {},
      });
      this.#o.log.info('registered node', { node: nodeName });
    }
    this.#uid = node.metadata?.uid ?? '';
    this.#conditions = node.status?.conditions;
    await this.#postStatus();
    await this.#renewLease();
  }

  /** Keeps the lease and the status fresh until stop(). */
  start(): void {
    this.#scheduleLease();
    this.#scheduleStatus();
  }

  stop(): void {
    this.#stopped = true;
    this.#leaseTimer?.();
    this.#statusTimer?.();
  }

  #scheduleLease(): void {
    if (this.#stopped) return;
    this.#leaseTimer = this.#o.clock.setTimeout(() => {
      this.#renewLease()
        .catch((err: unknown) => {
          this.#o.log.warn('node lease renewal failed', { error: errorMessage(err) });
        })
        .finally(() => {
          this.#scheduleLease();
        });
    }, this.#o.leaseRenewMs ?? 10_000);
  }

  #scheduleStatus(): void {
    if (this.#stopped) return;
    this.#statusTimer = this.#o.clock.setTimeout(() => {
      this.#postStatus()
        .catch(async (err: unknown) => {
          if (!isNotFound(err)) throw err;
          this.#o.log.warn('node object is gone; registering again');
          await this.register();
        })
        .catch((err: unknown) => {
          this.#o.log.warn('node status update failed', { error: errorMessage(err) });
        })
        .finally(() => {
          this.#scheduleStatus();
        });
    }, this.#o.statusIntervalMs ?? 60_000);
  }

  async #postStatus(): Promise<void> {
    const status = buildNodeStatus(this.#o, this.#o.clock.now(), this.#conditions);
    await this.#o.client.patch(
      NodeKind,
      undefined,
      this.#o.nodeName,
      { status },
      'merge',
      'status',
    );
    this.#conditions = status.conditions;
  }

  async #renewLease(): Promise<void> {
    const { client, nodeName } = this.#o;
    const spec = {
      holderIdentity: nodeName,
      leaseDurationSeconds: this.#o.leaseDurationSeconds ?? 40,
      renewTime: microTime(this.#o.clock.now()),
    };
    try {
      await client.patch(Kinds.Lease, leaseNamespace, nodeName, { spec }, 'merge');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await client.create<Lease>(Kinds.Lease, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: nodeName,
          namespace: leaseNamespace,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: this.#uid }],
        },
        spec,
      });
    }
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Node's `x64` is Go's (and Kubernetes') `amd64`. */
function goArch(): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };
  return names[arch()] ?? arch();
}

/**
 * A replicated Redis watched by Redis Sentinel, as pods: a primary, its replicas and three
 * sentinels, each a plain pod of the Redis image made from Debian's packages
 * (scripts/image/build-redis-image.sh, loaded into kind's node by the global setup and named by
 * BREAKWATER_REDIS_IMAGE), in a namespace of its own that enforces the `restricted` Pod
 * Security Standard: non-root, no capabilities, a read-only root filesystem, writes only to an
 * emptyDir. Everything is addressed by pod IP, which the agent's pods and this machine (the
 * cluster is routed) reach alike; the sentinels announce the addresses they see.
 *
 *   const store = await startSentinelPods();
 *   ... sentinel: { masterName: store.masterName, addresses: store.sentinels }
 *   await store.deletePrimaryPod();   // kubectl delete --force --grace-period=0
 *   const promoted = await store.waitForNewPrimary(store.primary, 30_000);
 *   await store.remove();
 */
import { api } from './breakwaterCluster.ts';
import { kubectl, uniqueNamespace } from './kube.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import type { PodView } from './breakwaterCluster.ts';
import {
  MASTER_NAME,
  waitForNewPrimaryOf,
  waitForSentinelsLinked,
  type SentinelTiming,
} from './redisSentinel.ts';
import { ask, clusterShards, clusterStateOk, formCluster } from './redisCluster.ts';
import { waitFor } from './waitFor.ts';

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;

export interface SentinelPods {
  readonly masterName: string;
  readonly namespace: string;
  /** podIP:port of the first primary. */
  readonly primary: string;
  /** podIP:port of each sentinel. */
  readonly sentinels: readonly string[];
  /** The primary's pod force-deleted (grace 0): its containers killed, its address gone. */
  deletePrimaryPod(): Promise<void>;
  waitForNewPrimary(was: string, timeoutMs: number): Promise<string>;
  /** Every pod force-deleted, then the namespace. */
  remove(): Promise<void>;
}

/** The image BREAKWATER_REDIS_IMAGE names; the global setup loads it into kind's node. */
export function redisImage(): string {
  const image = process.env['BREAKWATER_REDIS_IMAGE'];
  if (image === undefined || image === '')
    throw new Error(
      'BREAKWATER_REDIS_IMAGE is unset: the global setup builds the Redis image ' +
        '(scripts/image/build-redis-image.sh) and loads it into kind; on another cluster, load it ' +
        'and set BREAKWATER_REDIS_IMAGE',
    );
  return image;
}

export async function startSentinelPods(
  options: { readonly replicas?: number } & SentinelTiming = {},
): Promise<SentinelPods> {
  const image = redisImage();
  const { ns, remove } = await restrictedNamespace('redis-store');
  try {
    const apply = (...pods: object[]): Promise<unknown> =>
      kubectl(['apply', '-n', ns.name, '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }),
      });
    // The primary stops at once on the SIGTERM the kubelet sends first, waiting for no replica
    // and saving nothing: what it had not sent them is lost, as in a death.
    const server = ['--port', String(REDIS_PORT), '--dir', '/data', '--protected-mode', 'no'];
    const quick = ['--save', '', '--appendonly', 'no', '--shutdown-on-sigterm', 'nosave now'];
    await apply(
      redisPod(image, 'redis-0', 'redis', ['/usr/bin/redis-server', ...server, ...quick]),
    );
    const primaryIp = await readyPodIp(ns.name, 'redis-0');
    const primary = `${primaryIp}:${String(REDIS_PORT)}`;
    const replicas = options.replicas ?? 2;
    const sentinelConfig = [
      `port ${String(SENTINEL_PORT)}`,
      'protected-mode no',
      'dir /data',
      `sentinel monitor ${MASTER_NAME} ${primaryIp} ${String(REDIS_PORT)} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${String(options.downAfterMs ?? 1000)}`,
      `sentinel failover-timeout ${MASTER_NAME} ${String(options.failoverTimeoutMs ?? 5000)}`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
    ].join('\n');
    await apply(
      ...Array.from({ length: replicas }, (_, i) =>
        redisPod(image, `redis-${String(i + 1)}`, 'redis', [
          '/usr/bin/redis-server',
          ...server,
          ...quick,
          '--replicaof',
          primaryIp,
          String(REDIS_PORT),
        ]),
      ),
      // Sentinel rewrites its config file as it learns the others: written to the emptyDir.
      ...[0, 1, 2].map((i) =>
        redisPod(
          image,
          `sentinel-${String(i)}`,
          'sentinel',
          [
            '/usr/bin/sh',
            '-c',
            'printf "%s\\n" "$SENTINEL_CONF" >/data/sentinel.conf && exec redis-sentinel /data/sentinel.conf',
          ],
          { SENTINEL_CONF: sentinelConfig },
        ),
      ),
    );
    const sentinels = await Promise.all(
      [0, 1, 2].map(
        async (i) =>
          `${await readyPodIp(ns.name, `sentinel-${String(i)}`)}:${String(SENTINEL_PORT)}`,
      ),
    );
    await waitForSentinelsLinked(sentinels, replicas);
    return {
      masterName: MASTER_NAME,
      namespace: ns.name,
      primary,
      sentinels,
      deletePrimaryPod: async () => {
        await kubectl(['delete', 'pod', 'redis-0', '-n', ns.name, '--force', '--grace-period=0']);
      },
      waitForNewPrimary: (was, timeoutMs) => waitForNewPrimaryOf(sentinels, was, timeoutMs),
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface ClusterPods {
  readonly namespace: string;
  /** podIP:port of every node, as `store.redis.cluster.addresses` takes them. */
  readonly addresses: readonly string[];
  /**
   * Force-deletes (grace 0) the pod of the primary that holds a key matching `pattern`; its
   * podIP:port. Fails when no primary holds one.
   */
  deletePrimaryHolding(pattern: string): Promise<string>;
  /** The replica promoted in place of `was`, once the nodes left agree and say ok. */
  waitForNewPrimary(was: string, timeoutMs: number): Promise<string>;
  /** Every pod force-deleted, then the namespace. */
  remove(): Promise<void>;
}

/**
 * A Redis Cluster as pods: six nodes of the Redis image (three primaries with a replica each),
 * in a namespace that enforces the `restricted` Pod Security Standard as for the sentinel set,
 * formed from this machine by `redis-cli --cluster create` over the pods' addresses (the
 * cluster is routed), which the nodes also announce to the agent's pods.
 */
export async function startClusterPods(
  options: { readonly nodeTimeoutMs?: number } = {},
): Promise<ClusterPods> {
  const image = redisImage();
  const { ns, remove } = await restrictedNamespace('redis-cluster');
  try {
    const names = [0, 1, 2, 3, 4, 5].map((i) => `redis-${String(i)}`);
    const command = [
      '/usr/bin/redis-server',
      '--port',
      String(REDIS_PORT),
      '--dir',
      '/data',
      '--protected-mode',
      'no',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      '/data/nodes.conf',
      '--cluster-node-timeout',
      String(options.nodeTimeoutMs ?? 2000),
      // The first full sync at once, not after 5 s: a failover before it would lose everything.
      '--repl-diskless-sync-delay',
      '0',
      '--save',
      '',
      '--appendonly',
      'no',
      '--shutdown-on-sigterm',
      'nosave now',
    ];
    await kubectl(['apply', '-n', ns.name, '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: names.map((name) => redisPod(image, name, 'cluster', command)),
      }),
    });
    const ips = await Promise.all(names.map((name) => readyPodIp(ns.name, name)));
    const addresses = ips.map((ip) => `${ip}:${String(REDIS_PORT)}`);
    await formCluster(addresses);
    const deleted = new Set<string>();
    /** The replicas each deleted primary had, read before its death was noticed. */
    const replicasOf = new Map<string, readonly string[]>();
    const live = () => addresses.filter((a) => !deleted.has(a));
    return {
      namespace: ns.name,
      addresses,
      deletePrimaryHolding: async (pattern) => {
        const shards = await clusterShards(live()[0] ?? '');
        let holder: (typeof shards)[number] | undefined;
        for (const shard of shards) {
          // The keys are few: one SCAN of this size returns them all.
          const [, keys] = (await ask(shard.primary, [
            'SCAN',
            '0',
            'MATCH',
            pattern,
            'COUNT',
            '100000',
          ])) as [string, string[]];
          if (keys.length > 0) holder = shard;
        }
        if (holder === undefined) throw new Error(`no primary holds a key matching ${pattern}`);
        const name = names[addresses.indexOf(holder.primary)];
        if (name === undefined) throw new Error(`no pod of this cluster is at ${holder.primary}`);
        deleted.add(holder.primary);
        replicasOf.set(holder.primary, holder.replicas);
        await kubectl(['delete', 'pod', name, '-n', ns.name, '--force', '--grace-period=0']);
        return holder.primary;
      },
      waitForNewPrimary: async (was, timeoutMs) => {
        const replicas = new Set(replicasOf.get(was) ?? []);
        let promoted = '';
        await waitFor(
          async () => {
            const shards = await clusterShards(live()[0] ?? '').catch(() => []);
            promoted =
              shards.find((s) => replicas.has(s.primary) && s.slots.length > 0)?.primary ?? '';
            return promoted !== '' && (await clusterStateOk(live()).catch(() => false));
          },
          { description: `a replica of ${was} to be promoted`, timeoutMs, intervalMs: 100 },
        );
        return promoted;
      },
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** A namespace enforcing the `restricted` standard; `remove` force-deletes its pods, then it. */
async function restrictedNamespace(prefix: string) {
  const ns = await uniqueNamespace(prefix, { 'pod-security.kubernetes.io/enforce': 'restricted' });
  const remove = async (): Promise<void> => {
    await kubectl(['delete', 'pods', '--all', '-n', ns.name, '--force', '--grace-period=0'], {
      allowFailure: true,
    });
    await ns.cleanup();
  };
  return { ns, remove };
}

/** A pod of the Redis image as the `restricted` standard has it, its data in an emptyDir. */
function redisPod(
  image: string,
  name: string,
  role: string,
  command: readonly string[],
  env: Readonly<Record<string, string>> = {},
): object {
  const port = role === 'sentinel' ? SENTINEL_PORT : REDIS_PORT;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'redis', 'breakwater.dev/role': role } },
    spec: {
      // Its own death is the fault: nothing restarts it under the sentinels.
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: role,
          image,
          imagePullPolicy: 'Never',
          command,
          env: Object.entries(env).map(([key, value]) => ({ name: key, value })),
          ports: [{ name: role, containerPort: port }],
          readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '128Mi' } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
      ],
      volumes: [{ name: 'data', emptyDir: { sizeLimit: '64Mi' } }],
    },
  };
}

/** The pod's IP once it is Ready; fails at once, with its state, when it ended. */
async function readyPodIp(namespace: string, name: string): Promise<string> {
  return waitFor(
    async () => {
      const pod = await api().get<PodView>(Kinds.Pod, namespace, name);
      const phase = pod?.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded')
        throw new Error(
          `pod ${namespace}/${name} ended (${phase}): kubectl logs -n ${namespace} ${name}`,
        );
      const ready = pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready === true && pod?.status?.podIP !== undefined && pod.status.podIP;
    },
    { timeoutMs: 60_000, intervalMs: 250, description: `pod ${namespace}/${name} Ready` },
  );
}

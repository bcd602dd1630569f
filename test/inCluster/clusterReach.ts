/**
 * How the in-cluster suite reaches what runs in the cluster — the one place that differs
 * between clusters:
 *
 * - routed (kind as `tools/kindNode/kind-cluster.sh up` makes it; BREAKWATER_CLUSTER_ROUTED=1):
 *   this machine routes the pod network and the Service network through kind's node, so the
 *   test reaches a pod at its IP and an agent through its Service's ClusterIP, as a client
 *   inside the cluster would; pods reach a Service by its cluster DNS name.
 * - any other cluster: the test reaches a pod through `kubectl port-forward`, and pods reach a
 *   Service by its cluster DNS name. No Service is reachable from the host.
 *
 * Everything else the suite does — helm, kubectl, the API — is the same on both.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { KubeObject } from '../../platform/src/kube/kubeObject.ts';
import { Kinds } from '../../platform/src/kube/resourceKinds.ts';
import { api, podUrl, type PodView } from '../support/breakwaterCluster.ts';
import { kubeconfigPath, kubectlPath } from '../support/kube.ts';
import { inKindNode, kindClusterName } from '../../tools/kindNode/kindCluster.ts';
import { errorText } from '../../tools/cluster/polling.ts';

const run = promisify(execFile);

export interface ClusterReach {
  /** `http://host:port` on this machine for the pod's named container port. */
  podUrl(pod: PodView, port: 'http' | 'metrics'): Promise<string>;
  /** The base URL pods in the cluster use for `service`'s named port (an agent's provider URL). */
  serviceUrl(namespace: string, service: string, port: string): Promise<string>;
  /**
   * `http://host:port` on this machine for the Service's named port, through kube-proxy as a
   * client in the cluster sees it; undefined where this machine has no route to Services.
   */
  hostServiceUrl(namespace: string, service: string, port: 'http'): Promise<string | undefined>;
  /**
   * What the cluster's data plane holds for the Service, for a failure's message: its
   * endpoints as the EndpointSlices list them and, on kind, the rules kube-proxy wrote for it
   * and this machine's route and tracked connections to it. Empty where there is none.
   */
  describeServiceRoute(namespace: string, service: string): Promise<string>;
  close(): void;
}

/** Routed where the cluster says so (kind-cluster.sh's), else through port-forward. */
export function clusterReach(): ClusterReach {
  return process.env['BREAKWATER_CLUSTER_ROUTED'] === '1' ? routedReach() : kubeletReach();
}

interface ServiceView extends KubeObject {
  spec?: {
    selector?: Record<string, string>;
    clusterIP?: string;
    ports?: { name?: string; port: number }[];
  };
}

function kubeletReach(): ClusterReach {
  const forwards = new Map<string, { url: Promise<string>; child: ChildProcess }>();
  return {
    podUrl(pod, port) {
      const namespace = pod.metadata?.namespace ?? '';
      const name = pod.metadata?.name ?? '';
      const key = `${namespace}/${name}/${port}`;
      let forward = forwards.get(key);
      if (forward === undefined) {
        forward = portForward(namespace, name, port);
        forwards.set(key, forward);
      }
      return forward.url;
    },
    serviceUrl: (namespace, service, port) =>
      Promise.resolve(`http://${service}.${namespace}.svc.cluster.local:${portNumber(port)}`),
    hostServiceUrl: () => Promise.resolve(undefined),
    describeServiceRoute: endpointsOf,
    close() {
      for (const { child } of forwards.values()) child.kill('SIGTERM');
      forwards.clear();
    },
  };
}

function routedReach(): ClusterReach {
  return {
    // The pod at its own address, routed from this machine (test/support/breakwaterCluster.ts).
    podUrl: (pod, port) => Promise.resolve(podUrl(pod, port)),
    serviceUrl: (namespace, service, port) =>
      Promise.resolve(`http://${service}.${namespace}.svc.cluster.local:${portNumber(port)}`),
    async hostServiceUrl(namespace, service, port) {
      const spec = (await api().get<ServiceView>(Kinds.Service, namespace, service))?.spec;
      const number = spec?.ports?.find((p) => p.name === port)?.port;
      if (spec?.clusterIP === undefined || number === undefined)
        throw new Error(`Service ${namespace}/${service} has no ClusterIP or no port ${port}`);
      return `http://${spec.clusterIP}:${String(number)}`;
    },
    async describeServiceRoute(namespace, service) {
      return [
        await endpointsOf(namespace, service),
        await kubeProxyView(namespace, service),
        await hostPathView(namespace, service),
      ].join('\n');
    },
    close: () => undefined,
  };
}

/** The Service's endpoints, one line each: address, ready/serving/terminating, pod. */
async function endpointsOf(namespace: string, service: string): Promise<string> {
  try {
    const { stdout } = await run(kubectlPath(), [
      '--kubeconfig',
      kubeconfigPath(),
      'get',
      'endpointslices',
      '-n',
      namespace,
      '-l',
      `kubernetes.io/service-name=${service}`,
      '-o',
      'json',
    ]);
    const slices = JSON.parse(stdout) as {
      items: {
        endpoints?: {
          addresses: string[];
          conditions?: Record<string, boolean>;
          targetRef?: { name?: string };
        }[];
        ports?: { name?: string; port?: number }[];
      }[];
    };
    const lines = slices.items.flatMap((slice) => [
      `EndpointSlice ports ${JSON.stringify(slice.ports ?? [])}`,
      ...(slice.endpoints ?? []).map(
        (e) =>
          `  ${e.addresses.join(',')} ${JSON.stringify(e.conditions ?? {})} ${e.targetRef?.name ?? ''}`,
      ),
    ]);
    return lines.length > 0 ? lines.join('\n') : `no EndpointSlice for ${namespace}/${service}`;
  } catch (err) {
    return `EndpointSlices of ${namespace}/${service} unread: ${errorText(err)}`;
  }
}

/**
 * kube-proxy's NAT rules that name the Service (their comments carry `namespace/service`), read
 * inside kind's node, where kube-proxy writes them.
 */
async function kubeProxyView(namespace: string, service: string): Promise<string> {
  const cluster = kindClusterName();
  if (cluster === undefined) return '';
  try {
    const { stdout } = await inKindNode(cluster, ['iptables-save', '-t', 'nat'], {
      allowFailure: true,
    });
    const rules = stdout.split('\n').filter((l) => l.includes(`${namespace}/${service}`));
    return [`kube-proxy's NAT rules for it (${String(rules.length)}):`, ...rules].join('\n');
  } catch (err) {
    return `iptables-save in the node failed: ${errorText(err)}`;
  }
}

/**
 * This machine's side of the path to the Service: the route the kernel picks for its
 * ClusterIP (through kind's node) and the connection tracker's entries for it by state — a
 * call that is neither answered nor refused hangs in one of these.
 */
async function hostPathView(namespace: string, service: string): Promise<string> {
  const lines: string[] = [];
  const tryRun = async (command: string, args: string[]): Promise<string> => {
    try {
      return (await run(command, args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
    } catch (err) {
      return `${command} ${args.join(' ')} failed: ${errorText(err)}`;
    }
  };
  const clusterIP = (await api().get<ServiceView>(Kinds.Service, namespace, service))?.spec
    ?.clusterIP;
  if (clusterIP !== undefined) {
    lines.push(`route to ${clusterIP}: ${await tryRun('ip', ['route', 'get', clusterIP])}`);
    const tracked = await tryRun('conntrack', ['-L', '-p', 'tcp', '-d', clusterIP]);
    const states = new Map<string, number>();
    for (const line of tracked.split('\n')) {
      const state = /^tcp\s+\d+\s+\d+\s+(\S+)/.exec(line)?.[1];
      if (state !== undefined) states.set(state, (states.get(state) ?? 0) + 1);
    }
    lines.push(
      `connections tracked to ${clusterIP}: ${JSON.stringify(Object.fromEntries(states))}`,
    );
  }
  return lines.join('\n');
}

/** The suite's Services and the runtime name their ports as the chart and operator do. */
function portNumber(port: string): string {
  const known: Record<string, string> = { http: '8080', metrics: '9090' };
  const number = known[port];
  if (number === undefined) throw new Error(`no port number known for ${port}`);
  return number;
}

/** `kubectl port-forward pod/<name> :<port>`; the URL once it says where it listens. */
function portForward(
  namespace: string,
  pod: string,
  port: string,
): { url: Promise<string>; child: ChildProcess } {
  const child = spawn(
    kubectlPath(),
    ['--kubeconfig', kubeconfigPath(), 'port-forward', '-n', namespace, `pod/${pod}`, `:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const url = new Promise<string>((resolve, reject) => {
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('exit', (code) => {
      reject(
        new Error(`kubectl port-forward ${namespace}/${pod} exited (${String(code)}): ${stderr}`),
      );
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      // "Forwarding from 127.0.0.1:41234 -> 8080"
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(line);
      if (match !== null) resolve(`http://127.0.0.1:${match[1] ?? ''}`);
    });
  });
  return { url, child };
}

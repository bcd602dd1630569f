import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** The control plane's processes, in start order (the real node's are realNode/'s). */
export const componentNames = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
] as const;
export type ComponentName = (typeof componentNames)[number];

/** Ports on 127.0.0.1. The defaults stay clear of a real cluster's (2379, 6443, 10257, 10259). */
export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiserver: number;
  readonly controllerManager: number;
  readonly scheduler: number;
}

const portVariables: Readonly<Record<keyof ClusterPorts, readonly [string, number]>> = {
  etcdClient: ['BREAKWATER_ETCD_PORT', 52379],
  etcdPeer: ['BREAKWATER_ETCD_PEER_PORT', 52380],
  apiserver: ['BREAKWATER_APISERVER_PORT', 56443],
  controllerManager: ['BREAKWATER_CONTROLLER_MANAGER_PORT', 56457],
  scheduler: ['BREAKWATER_SCHEDULER_PORT', 56459],
};

/** Reads the ports from the environment, naming the variable when a value is not a port. */
export function portsFromEnv(env: NodeJS.ProcessEnv): ClusterPorts {
  const read = (key: keyof ClusterPorts): number => {
    const [variable, fallback] = portVariables[key];
    const raw = env[variable];
    if (raw === undefined || raw === '') return fallback;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${variable}=${raw} is not a TCP port (1-65535)`);
    }
    return port;
  };
  return {
    etcdClient: read('etcdClient'),
    etcdPeer: read('etcdPeer'),
    apiserver: read('apiserver'),
    controllerManager: read('controllerManager'),
    scheduler: read('scheduler'),
  };
}

/** Where the local cluster keeps its state, all under the gitignored `.breakwater/`. */
export interface ClusterLayout {
  readonly repoRoot: string;
  /** `.breakwater/cluster`: PKI, etcd data, component kubeconfigs, pid files. */
  readonly stateDir: string;
  readonly pkiDir: string;
  readonly etcdDataDir: string;
  readonly runDir: string;
  /** The ports and binaries the running cluster was started with. */
  readonly recordFile: string;
  readonly lockFile: string;
  readonly logDir: string;
  /** The admin kubeconfig that users and tests use. */
  readonly kubeconfig: string;
  readonly buildScript: string;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `breakwater` moves the state directory (BREAKWATER_DIR), so that a second cluster — the real
 * node's test — can run beside the usual one on other ports.
 */
export function clusterLayout(
  root: string = repoRoot,
  breakwater: string = join(root, '.breakwater'),
): ClusterLayout {
  const stateDir = join(breakwater, 'cluster');
  return {
    repoRoot: root,
    stateDir,
    pkiDir: join(stateDir, 'pki'),
    etcdDataDir: join(stateDir, 'etcd'),
    runDir: join(stateDir, 'run'),
    recordFile: join(stateDir, 'cluster.json'),
    lockFile: join(stateDir, 'up.lock'),
    logDir: join(breakwater, 'logs'),
    kubeconfig: join(breakwater, 'kubeconfig'),
    buildScript: join(root, 'tools', 'cluster', 'build-binaries.sh'),
  };
}

/** The layout of the cluster that BREAKWATER_DIR names, else the checkout's `.breakwater/`. */
export function clusterLayoutFromEnv(env: NodeJS.ProcessEnv): ClusterLayout {
  const dir = env['BREAKWATER_DIR'];
  return dir === undefined || dir === '' ? clusterLayout() : clusterLayout(repoRoot, resolve(dir));
}

export function logFile(layout: ClusterLayout, component: ComponentName): string {
  return join(layout.logDir, `${component}.log`);
}

export function pidFile(layout: ClusterLayout, component: ComponentName): string {
  return join(layout.runDir, `${component}.pid`);
}

/** The cluster's Service network; the first address is the `kubernetes` Service. */
export const serviceClusterIpRange = '10.0.0.0/24';
export const kubernetesServiceIp = '10.0.0.1';
export const clusterName = 'breakwater-local';

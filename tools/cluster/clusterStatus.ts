import { readClusterRecord } from './clusterRecord.ts';
import { componentHealth, type NodeSummary } from './componentHealth.ts';
import {
  readRecords,
  resolveOptions,
  runnableComponents,
  type ClusterOptions,
} from './componentLifecycle.ts';
import { componentNames, portsFromEnv, type ComponentName } from './layout.ts';
import { pkiFiles } from './pki.ts';
import { errorText } from './polling.ts';
import { nodeKindFromEnv } from './realNode/nodeLayout.ts';
import { isAlive } from './supervisor.ts';

export interface ComponentStatus {
  readonly name: ComponentName;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly port: number | undefined;
  /** undefined when healthy, else why not. */
  readonly problem: string | undefined;
  /** The local node's code is not there yet. */
  readonly skipped: boolean;
}

export interface StatusReport {
  readonly components: readonly ComponentStatus[];
  readonly nodes: readonly NodeSummary[] | undefined;
  readonly kubeconfig: string;
  readonly healthy: boolean;
}

export async function clusterStatus(options: ClusterOptions = {}): Promise<StatusReport> {
  const { layout, env } = resolveOptions(options);
  const runnable = runnableComponents(layout, nodeKindFromEnv(env));
  const records = await readRecords(layout, componentNames);
  const ports = (await readClusterRecord(layout.recordFile))?.ports ?? portsFromEnv(env);
  const health = componentHealth(ports, pkiFiles(layout.pkiDir));
  const portOf: Readonly<Record<ComponentName, number | undefined>> = {
    etcd: ports.etcdClient,
    'kube-apiserver': ports.apiserver,
    'kube-controller-manager': ports.controllerManager,
    'kube-scheduler': ports.scheduler,
    'local-node': undefined,
  };
  const components = await Promise.all(
    componentNames.map(async (name): Promise<ComponentStatus> => {
      const record = records.get(name);
      const running = record !== undefined && isAlive(record);
      let problem: string | undefined = running ? undefined : 'not running';
      if (running) {
        try {
          await health.healthy(name);
        } catch (error: unknown) {
          problem = errorText(error);
        }
      }
      return {
        name,
        pid: running ? record.pid : undefined,
        running,
        port: portOf[name],
        problem,
        skipped: !runnable.includes(name),
      };
    }),
  );
  let nodes: NodeSummary[] | undefined;
  try {
    nodes = await health.nodes();
  } catch {
    nodes = undefined;
  }
  const healthy = components.every((c) => c.skipped || c.problem === undefined);
  return { components, nodes, kubeconfig: layout.kubeconfig, healthy };
}

import { readClusterRecord } from './clusterRecord.ts';
import { componentHealth, type NodeSummary } from './componentHealth.ts';
import { readRecords, resolveOptions, type ClusterOptions } from './componentLifecycle.ts';
import { componentNames, portsFromEnv, type ComponentName } from './layout.ts';
import { pkiFiles } from './pki.ts';
import { errorText } from './polling.ts';
import { nodeKindFromEnv, type RealNodeComponent } from './realNode/nodeLayout.ts';
import { realNodeStatus } from './realNode/nodeProcesses.ts';
import { isAlive } from './supervisor.ts';

export interface ComponentStatus {
  readonly name: ComponentName | RealNodeComponent;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly port: number | undefined;
  /** undefined when healthy, else why not. */
  readonly problem: string | undefined;
}

export interface StatusReport {
  readonly components: readonly ComponentStatus[];
  readonly nodes: readonly NodeSummary[] | undefined;
  readonly kubeconfig: string;
  readonly healthy: boolean;
}

export async function clusterStatus(options: ClusterOptions = {}): Promise<StatusReport> {
  const { layout, env } = resolveOptions(options);
  const record = await readClusterRecord(layout.recordFile);
  // What runs decides, else what `up` would start.
  const kind = record?.node ?? nodeKindFromEnv(env);
  const records = await readRecords(layout, componentNames);
  const ports = record?.ports ?? portsFromEnv(env);
  const pki = pkiFiles(layout.pkiDir);
  const health = componentHealth(ports, pki);
  const portOf: Readonly<Record<ComponentName, number | undefined>> = {
    etcd: ports.etcdClient,
    'kube-apiserver': ports.apiserver,
    'kube-controller-manager': ports.controllerManager,
    'kube-scheduler': ports.scheduler,
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
      };
    }),
  );
  if (kind === 'kubelet') {
    const realNode = await realNodeStatus(layout, pki, ports.apiserver);
    components.push(...realNode);
  }
  let nodes: NodeSummary[] | undefined;
  try {
    nodes = await health.nodes();
  } catch {
    nodes = undefined;
  }
  const healthy = components.every((c) => c.problem === undefined);
  return { components, nodes, kubeconfig: layout.kubeconfig, healthy };
}

/**
 * Brings up the cluster the integration tests run on, unless BREAKWATER_KUBECONFIG already
 * names one (any cluster): then the suite uses that, unchanged. The cluster is the local one
 * (tools/cluster), or kind with BREAKWATER_CLUSTER=kind (tools/kindNode/kind-cluster.sh, the
 * project's image loaded into its node). Exports BREAKWATER_KUBECONFIG and BREAKWATER_KUBECTL
 * (BREAKWATER_LOCAL_CLUSTER=1 on the local cluster, BREAKWATER_KIND_CLUSTER on kind, with what
 * the pods need: see below), which the test workers inherit.
 */
type Binaries = typeof import('../../tools/cluster/binaries.ts');
type ClusterErrors = typeof import('../../tools/cluster/clusterError.ts');
type ControlPlane = typeof import('../../tools/cluster/controlPlane.ts');
type Layout = typeof import('../../tools/cluster/layout.ts');
type ProjectImage = typeof import('../../tools/cluster/realNode/projectImage.ts');
type KindCluster = typeof import('../../tools/kindNode/kindCluster.ts');

// Jest runs this file through its transformer and then imports it natively; a static import of
// a sibling would arrive as './x.js' and fail, so the cluster code is loaded by file URL.
async function load<T>(relative: string): Promise<T> {
  return (await import(new URL(relative, import.meta.url).href)) as T;
}

const progress = (line: string): void => {
  process.stderr.write(`[cluster] ${line}\n`);
};

export default async function globalSetup(): Promise<void> {
  const { clusterLayout } = await load<Layout>('../../tools/cluster/layout.ts');
  const external = process.env['BREAKWATER_KUBECONFIG'];
  if (external !== undefined && external !== '') {
    const { findKubectl } = await load<Binaries>('../../tools/cluster/binaries.ts');
    process.env['BREAKWATER_KUBECTL'] = await findKubectl(clusterLayout(), process.env, progress);
    progress(`using the cluster of BREAKWATER_KUBECONFIG=${external}`);
    return;
  }
  if (process.env['BREAKWATER_CLUSTER'] === 'kind') {
    await kindSetup(clusterLayout());
    return;
  }
  const { clusterDown, clusterStatus, clusterUp } = await load<ControlPlane>(
    '../../tools/cluster/controlPlane.ts',
  );
  const { describeClusterError, isClusterError } = await load<ClusterErrors>(
    '../../tools/cluster/clusterError.ts',
  );
  process.stderr.write('\n');
  // A cluster someone else started (make cluster-up, another run) is never torn down here.
  const wasRunning = await clusterStatus()
    .then((report) => report.components.some((c) => c.running))
    .catch(() => false);
  try {
    const result = await clusterUp({ progress });
    process.env['BREAKWATER_KUBECONFIG'] = result.kubeconfig;
    process.env['BREAKWATER_KUBECTL'] = result.kubectl;
    // Tests that hold the local cluster to the pinned release check this.
    process.env['BREAKWATER_LOCAL_CLUSTER'] = '1';
    if (result.node !== undefined) {
      // Pods have their own network, routed from this machine: servers a test starts listen
      // where pods reach them (podReach.ts), the chart and the operator use the image the node
      // holds, and agent images a test builds go into the node's containerd.
      process.env['BREAKWATER_POD_HOST'] = result.node.hostAddress;
      process.env['BREAKWATER_CLUSTER_ROUTED'] = '1';
      process.env['BREAKWATER_CHART_IMAGE'] = result.node.image;
      process.env['BREAKWATER_CONTAINERD_ADDRESS'] = result.node.containerdSocket;
    }
    // Read by globalTeardown, which runs in this same process.
    // Ours to stop only if etcd started here: repairing a running cluster (say, restarting its
    // kubelet) does not make someone else's cluster ours.
    (globalThis as ClusterOwnership).breakwaterStartedCluster =
      !wasRunning && result.started.includes('etcd');
  } catch (error: unknown) {
    // Jest skips the teardown when the setup fails: stop what did start here (logs stay).
    if (!wasRunning && process.env['BREAKWATER_KEEP_CLUSTER'] !== '1') {
      await clusterDown({ progress }).catch(() => undefined);
    }
    if (!isClusterError(error)) throw error;
    throw new Error(`the local cluster did not come up:\n${describeClusterError(error)}`);
  }
}

interface ClusterOwnership {
  breakwaterStartedCluster?: boolean;
  breakwaterStartedKind?: string;
}

/**
 * kind: `up` (reusing the cluster when it runs already, which is then not ours to take down),
 * the project's image built and loaded, and what `kind-cluster.sh env` prints exported. Routed
 * like the real node: pods reach servers the tests start at BREAKWATER_POD_HOST.
 */
async function kindSetup(layout: ReturnType<Layout['clusterLayout']>): Promise<void> {
  const { kindClusterExists, kindDown, kindUp } = await load<KindCluster>(
    '../../tools/kindNode/kindCluster.ts',
  );
  const { projectImageRef } = await load<ProjectImage>(
    '../../tools/cluster/realNode/projectImage.ts',
  );
  const name = process.env['BREAKWATER_KIND_CLUSTER'] ?? 'breakwater';
  const image = await projectImageRef(layout, process.env);
  const wasRunning = await kindClusterExists(name);
  progress(`kind cluster ${name}${wasRunning ? ' (running already)' : ''}, image ${image}`);
  try {
    const exported = await kindUp(name, image, wasRunning);
    Object.assign(process.env, exported);
  } catch (error: unknown) {
    if (!wasRunning && process.env['BREAKWATER_KEEP_CLUSTER'] !== '1') {
      await kindDown(name).catch(() => undefined);
    }
    throw error;
  }
  const { findKubectl } = await load<Binaries>('../../tools/cluster/binaries.ts');
  process.env['BREAKWATER_KUBECTL'] = await findKubectl(layout, process.env, progress);
  process.env['BREAKWATER_CHART_IMAGE'] = image;
  if (!wasRunning) (globalThis as ClusterOwnership).breakwaterStartedKind = name;
}

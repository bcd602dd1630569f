/**
 * Brings up the cluster the integration tests run on, unless BREAKWATER_KUBECONFIG already
 * names one (any cluster): then the suite uses that, unchanged. The cluster is a one-node kind
 * cluster (tools/kindNode/kind-cluster.sh; decision 0045), the project's image and the Redis image
 * (scripts/image/build-redis-image.sh; BREAKWATER_REDIS_IMAGE) loaded into its node. Exports BREAKWATER_KUBECONFIG, BREAKWATER_KUBECTL and what the pods need (see below),
 * which the test workers inherit.
 */
import { fileURLToPath } from 'node:url';

type Binaries = typeof import('../../tools/cluster/binaries.ts');
type Layout = typeof import('../../tools/cluster/layout.ts');
type ProjectImage = typeof import('../../tools/cluster/projectImage.ts');
type KindCluster = typeof import('../../tools/kindNode/kindCluster.ts');
type RunCommand = typeof import('../../tools/cluster/runCommand.ts');

// Jest runs this file through its transformer and then imports it natively; a static import of
// a sibling would arrive as './x.js' and fail, so the cluster code is loaded by file URL.
async function load<T>(relative: string): Promise<T> {
  return (await import(new URL(relative, import.meta.url).href)) as T;
}

const progress = (line: string): void => {
  process.stderr.write(`[cluster] ${line}\n`);
};

interface ClusterOwnership {
  breakwaterStartedKind?: string;
}

export default async function globalSetup(): Promise<void> {
  const { clusterLayout } = await load<Layout>('../../tools/cluster/layout.ts');
  const { findKubectl } = await load<Binaries>('../../tools/cluster/binaries.ts');
  const layout = clusterLayout();
  const external = process.env['BREAKWATER_KUBECONFIG'];
  if (external !== undefined && external !== '') {
    process.env['BREAKWATER_KUBECTL'] = await findKubectl(layout, process.env, progress);
    progress(`using the cluster of BREAKWATER_KUBECONFIG=${external}`);
    return;
  }
  process.stderr.write('\n');
  const { kindClusterRunning, kindDown, kindUp } = await load<KindCluster>(
    '../../tools/kindNode/kindCluster.ts',
  );
  const { projectImageRef } = await load<ProjectImage>('../../tools/cluster/projectImage.ts');
  const name = process.env['BREAKWATER_KIND_CLUSTER'] ?? 'breakwater';
  const image = await projectImageRef(layout, process.env);
  // A cluster someone else brought up (make kind-up, a kept run) is used as it is and left up;
  // one kind still lists but whose node is dead (a reboot, a killed run) is recreated here, and
  // taken down at the end like one this run brought up.
  const wasRunning = await kindClusterRunning(name);
  progress(`kind cluster ${name}${wasRunning ? ' (running already)' : ''}, image ${image}`);
  // helm, which the chart suites and `make e2e-kind` run, builds beside the cluster the first
  // time (a few minutes of Go), not inside a suite's time and beside its tests; cached after.
  const { runCommand } = await load<RunCommand>('../../tools/cluster/runCommand.ts');
  const helmBuilt = runCommand(
    'bash',
    [fileURLToPath(new URL('../../tools/cluster/build-helm.sh', import.meta.url))],
    { timeoutMs: 30 * 60_000, streamStderr: true },
  ).then(() => undefined);
  helmBuilt.catch(() => undefined); // told after the cluster is up, or after its clean-up
  try {
    // `up`, routed as the suites need: pods reach servers the tests start at
    // BREAKWATER_POD_HOST, and this machine reaches pods and Services at their addresses.
    const exported = await kindUp(name, image, wasRunning, { redis: true });
    await helmBuilt;
    Object.assign(process.env, exported);
  } catch (error: unknown) {
    await helmBuilt.catch(() => undefined);
    // Jest skips the teardown when the setup fails: take down what came up here.
    if (!wasRunning && process.env['BREAKWATER_KEEP_CLUSTER'] !== '1') {
      await kindDown(name).catch(() => undefined);
    }
    throw error;
  }
  process.env['BREAKWATER_KUBECTL'] = await findKubectl(layout, process.env, progress);
  process.env['BREAKWATER_CHART_IMAGE'] = image;
  // Read by globalTeardown, which runs in this same process.
  if (!wasRunning) (globalThis as ClusterOwnership).breakwaterStartedKind = name;
}

/**
 * Stops the local cluster (or takes kind's down) when the global setup started it, so a cluster
 * someone brought up by hand survives the test run. BREAKWATER_KEEP_CLUSTER=1 keeps it in any case.
 */
type ControlPlane = typeof import('../../tools/cluster/controlPlane.ts');
type KindCluster = typeof import('../../tools/kindNode/kindCluster.ts');

interface ClusterOwnership {
  breakwaterStartedCluster?: boolean;
  breakwaterStartedKind?: string;
}

export default async function globalTeardown(): Promise<void> {
  const kind = (globalThis as ClusterOwnership).breakwaterStartedKind;
  if (kind !== undefined) {
    if (process.env['BREAKWATER_KEEP_CLUSTER'] === '1') {
      process.stderr.write(
        `[cluster] kind cluster ${kind} kept (BREAKWATER_KEEP_CLUSTER=1); \`make kind-down\` takes it down\n`,
      );
      return;
    }
    const { kindDown } = (await import(
      new URL('../../tools/kindNode/kindCluster.ts', import.meta.url).href
    )) as KindCluster;
    await kindDown(kind);
    return;
  }
  const startedIt = (globalThis as ClusterOwnership).breakwaterStartedCluster === true;
  if (!startedIt) return;
  if (process.env['BREAKWATER_KEEP_CLUSTER'] === '1') {
    process.stderr.write(
      '[cluster] kept running (BREAKWATER_KEEP_CLUSTER=1); `make cluster-down` stops it\n',
    );
    return;
  }
  // See globalSetup.ts for why the cluster code is loaded by file URL.
  const { clusterDown } = (await import(
    new URL('../../tools/cluster/controlPlane.ts', import.meta.url).href
  )) as ControlPlane;
  await clusterDown({
    progress: (line) => {
      process.stderr.write(`[cluster] ${line}\n`);
    },
  });
}

/**
 * Stops the local cluster when the global setup started it, so a cluster someone brought up
 * by hand survives the test run. BREAKWATER_KEEP_CLUSTER=1 keeps it in any case.
 */
type ControlPlane = typeof import('../../tools/cluster/controlPlane.ts');

interface ClusterOwnership {
  breakwaterStartedCluster?: boolean;
}

export default async function globalTeardown(): Promise<void> {
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

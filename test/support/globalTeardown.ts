/**
 * Takes kind's cluster down (the host put back as `up` found it, and checked) when the global
 * setup brought it up, so a cluster someone brought up by hand survives the test run.
 * BREAKWATER_KEEP_CLUSTER=1 keeps it in any case.
 */
type KindCluster = typeof import('../../tools/kindNode/kindCluster.ts');

interface ClusterOwnership {
  breakwaterStartedKind?: string;
}

export default async function globalTeardown(): Promise<void> {
  const kind = (globalThis as ClusterOwnership).breakwaterStartedKind;
  if (kind === undefined) return;
  if (process.env['BREAKWATER_KEEP_CLUSTER'] === '1') {
    process.stderr.write(
      `[cluster] kind cluster ${kind} kept (BREAKWATER_KEEP_CLUSTER=1); \`make kind-down\` takes it down\n`,
    );
    return;
  }
  // See globalSetup.ts for why the cluster code is loaded by file URL.
  const { kindDown } = (await import(
    new URL('../../tools/kindNode/kindCluster.ts', import.meta.url).href
  )) as KindCluster;
  await kindDown(kind);
}

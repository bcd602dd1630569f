/**
 * The Breakwater image the in-cluster suite installs, which the nodes already hold: on the
 * local cluster's real node the global setup built it from this checkout and imported it
 * (tools/cluster/realNode/projectImage.ts); `make e2e-node` and `make e2e-kind` build and load
 * theirs. Each names it in BREAKWATER_CHART_IMAGE.
 */
export function imageUnderTest(): string {
  const given = process.env['BREAKWATER_CHART_IMAGE'];
  if (given !== undefined && given !== '') return given;
  throw new Error(
    'BREAKWATER_CHART_IMAGE must name an image the cluster nodes have: the local cluster sets ' +
      'it when it has a node (root on Linux); make e2e-kind and make e2e-node set theirs',
  );
}

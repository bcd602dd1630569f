/**
 * The Breakwater image the in-cluster suite installs, which the nodes already hold: the
 * integration suites' global setup and `make e2e-kind` build it from this checkout and load it
 * into kind's node (tools/kindNode/kindCluster.ts), and name it in BREAKWATER_CHART_IMAGE.
 */
export function imageUnderTest(): string {
  const given = process.env['BREAKWATER_CHART_IMAGE'];
  if (given !== undefined && given !== '') return given;
  throw new Error(
    "BREAKWATER_CHART_IMAGE must name an image the cluster nodes have: the suites' global " +
      'setup and make e2e-kind set it for the kind cluster they bring up',
  );
}

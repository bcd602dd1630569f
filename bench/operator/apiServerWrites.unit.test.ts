import { describe, expect, it } from '@jest/globals';
import { parseWriteCounts, writesBetween } from './apiServerWrites.ts';

const metrics = (rows: readonly string[]): string =>
  [
    '# HELP apiserver_request_total [STABLE] Counter of apiserver requests',
    '# TYPE apiserver_request_total counter',
    ...rows,
  ].join('\n');

describe('the API server write counts', () => {
  it('sums the write verbs by resource and subresource over every code, and skips reads', () => {
    const counts = parseWriteCounts(
      metrics([
        'apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="replicasets",scope="resource",subresource="",verb="POST",version="v1"} 1000',
        'apiserver_request_total{code="409",component="apiserver",dry_run="",group="apps",resource="replicasets",scope="resource",subresource="",verb="POST",version="v1"} 3',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="status",verb="PUT",version="v1"} 1990',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="APPLY",version="v1"} 1000',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="GET",version="v1"} 52',
        'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="WATCH",version="v1"} 9',
      ]),
    );
    expect(counts).toEqual({
      replicasets: 1003,
      'deployments/status': 1990,
      configmaps: 1000,
    });
  });

  it('gives what was written between two snapshots, largest first, and the total', () => {
    const between = writesBetween(
      { replicasets: 10, configmaps: 5 },
      { replicasets: 1010, configmaps: 5, endpointslices: 1000, 'deployments/status': 2000 },
    );
    expect(Object.entries(between)).toEqual([
      ['deployments/status', 2000],
      ['replicasets', 1000],
      ['endpointslices', 1000],
      ['total', 4000],
    ]);
  });
});

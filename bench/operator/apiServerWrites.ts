/**
 * Every client's writes as the API server counts them (`apiserver_request_total`, read with the
 * real kubectl's `get --raw /metrics`): what the operator's own counters cannot show, such as
 * the ReplicaSets, EndpointSlices and status updates the built-in controllers write in answer
 * to the operator's children. Two snapshots give the writes between them by resource.
 */
import { kubectl } from '../../test/support/kube.ts';

const WRITE_VERBS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE']);

/** Write requests by `resource[/subresource]`, since the API server started. */
export type WriteCounts = Readonly<Record<string, number>>;

export async function apiServerWrites(): Promise<WriteCounts> {
  const { stdout } = await kubectl(['get', '--raw', '/metrics'], { timeoutMs: 30_000 });
  return parseWriteCounts(stdout);
}

/** The write requests in Prometheus text, summed by resource and subresource over every code. */
export function parseWriteCounts(text: string): WriteCounts {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    if (!WRITE_VERBS.has(labels['verb'] ?? '')) continue;
    const resource = labels['resource'] ?? '';
    if (resource === '') continue;
    const key = labels['subresource'] ? `${resource}/${labels['subresource']}` : resource;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return counts;
}

/** What was written between two snapshots, largest first, with the sum as `total`. */
export function writesBetween(before: WriteCounts, after: WriteCounts): Record<string, number> {
  const rows = Object.entries(after)
    .map(([key, n]) => [key, n - (before[key] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return { ...Object.fromEntries(rows), total: rows.reduce((sum, [, n]) => sum + n, 0) };
}

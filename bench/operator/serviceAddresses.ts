/**
 * Every agent has a ClusterIP Service, and a cluster's Service range can be too small for 1000
 * agents (a /24 holds about 250 addresses; kind's, as kind-cluster.sh makes it, is a /16). Kubernetes (1.33+) takes further ServiceCIDR
 * objects at run time, so when the free addresses fall short the bench adds one for its
 * duration instead of restarting the API server with a wider range.
 */
import { randomBytes } from 'node:crypto';
import { kubectl } from '../../test/support/kube.ts';

interface ServiceCidrList {
  items: { metadata?: { deletionTimestamp?: string }; spec?: { cidrs?: string[] } }[];
}

interface ServiceList {
  items: { spec?: { clusterIPs?: string[] } }[];
}

/** Usable IPv4 addresses in a CIDR (the allocator keeps the first and the last). */
function addresses(cidr: string): number {
  const [ip = '', bits = '32'] = cidr.split('/');
  if (ip.includes(':')) return 0;
  return Math.max(0, 2 ** (32 - Number(bits)) - 2);
}

export interface AddedRange {
  readonly cidr: string | undefined;
  readonly free: number;
  /** Deletes the range it added (once its Services are gone, the API server finalizes it). */
  readonly remove: () => Promise<void>;
}

export async function ensureServiceAddresses(needed: number): Promise<AddedRange> {
  const cidrs = JSON.parse(
    (await kubectl(['get', 'servicecidrs', '-o', 'json'])).stdout,
  ) as ServiceCidrList;
  const services = JSON.parse(
    (await kubectl(['get', 'services', '--all-namespaces', '-o', 'json'])).stdout,
  ) as ServiceList;
  // A range being deleted (an earlier run's, waiting for its addresses to be freed) takes no
  // new Services.
  const capacity = cidrs.items
    .filter((c) => c.metadata?.deletionTimestamp === undefined)
    .flatMap((c) => c.spec?.cidrs ?? [])
    .reduce((sum, cidr) => sum + addresses(cidr), 0);
  const used = services.items.filter((s) =>
    (s.spec?.clusterIPs ?? []).some((ip) => ip !== 'None'),
  ).length;
  const free = capacity - used;
  if (free >= needed + 16) return { cidr: undefined, free, remove: () => Promise.resolve() };

  const name = `breakwater-bench-${randomBytes(3).toString('hex')}`;
  const cidr = '10.200.0.0/20';
  await kubectl(['create', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'ServiceCIDR',
      metadata: { name, labels: { 'breakwater.dev/test': 'true' } },
      spec: { cidrs: [cidr] },
    }),
  });
  await kubectl(['wait', '--for=condition=Ready', '--timeout=30s', `servicecidr/${name}`]);
  return {
    cidr,
    free,
    remove: async () => {
      await kubectl(['delete', 'servicecidr', name, '--ignore-not-found', '--wait=false']);
    },
  };
}

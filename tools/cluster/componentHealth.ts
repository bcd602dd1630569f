import { httpGet, probeHealthy, tlsMaterial, type TlsMaterial } from './healthProbe.ts';
import type { ClusterPorts, ComponentName } from './layout.ts';
import type { PkiFiles } from './pki.ts';

/**
 * How to tell that a component works. `healthy` is what `status` and a repeated `up` ask;
 * `ready` is what a fresh start waits for, which for the controller manager is more than its
 * health endpoint: its controllers have done something.
 */
export interface ComponentHealth {
  /** Resolves when healthy; rejects saying what is wrong. */
  healthy(name: ComponentName): Promise<true>;
  ready(name: ComponentName): Promise<true>;
  /** Every Node with its Ready condition, via the API server. */
  nodes(): Promise<NodeSummary[]>;
}

export interface NodeSummary {
  readonly name: string;
  readonly ready: boolean;
}

interface NodeLike {
  readonly metadata?: { readonly name?: string };
  readonly status?: {
    readonly conditions?: readonly {
      type?: string;
      status?: string;
    }[];
  };
}

export function componentHealth(ports: ClusterPorts, pki: PkiFiles): ComponentHealth {
  let material: { admin: TlsMaterial; trust: TlsMaterial } | undefined;
  // Read lazily: `status` asks before any certificate may exist.
  const tls = (): { admin: TlsMaterial; trust: TlsMaterial } => {
    material ??= {
      admin: tlsMaterial(pki.ca.cert, pki.leaf('admin')),
      trust: tlsMaterial(pki.ca.cert),
    };
    return material;
  };
  const api = `https://127.0.0.1:${ports.apiserver}`;

  const apiGet = async <T>(path: string): Promise<T | undefined> => {
    const answer = await httpGet(`${api}${path}`, tls().admin);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) {
      throw new Error(`GET ${path} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    }
    return JSON.parse(answer.body) as T;
  };

  const nodeReady = (node: NodeLike): boolean =>
    node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

  const healthy = async (name: ComponentName): Promise<true> => {
    switch (name) {
      case 'etcd': {
        const answer = await httpGet(`http://127.0.0.1:${ports.etcdClient}/health`);
        if (answer.status === 200 && answer.body.includes('"health":"true"')) return true;
        throw new Error(`etcd /health answered ${answer.status}: ${answer.body.trim()}`);
      }
      case 'kube-apiserver':
        return probeHealthy(`${api}/readyz`, tls().admin);
      case 'kube-controller-manager':
        return probeHealthy(`https://127.0.0.1:${ports.controllerManager}/healthz`, tls().trust);
      case 'kube-scheduler':
        return probeHealthy(`https://127.0.0.1:${ports.scheduler}/healthz`, tls().trust);
    }
  };

  return {
    healthy,
    async ready(name) {
      await healthy(name);
      if (name === 'kube-controller-manager') {
        // The service-account controller has run: pods can be created in a new namespace.
        const account = await apiGet('/api/v1/namespaces/default/serviceaccounts/default');
        if (account === undefined)
          throw new Error('ServiceAccount default/default not created yet');
      }
      return true;
    },
    async nodes() {
      const list = await apiGet<{ items: NodeLike[] }>('/api/v1/nodes');
      return (list?.items ?? []).map((node) => ({
        name: node.metadata?.name ?? '?',
        ready: nodeReady(node),
      }));
    },
  };
}

import { describe, expect, it } from '@jest/globals';
import { clusterLayout } from '../layout.ts';
import { coreDnsManifests } from './coreDns.ts';
import { cniConflist, containerdConfig, kubeletConfig, kubeProxyConfig } from './nodeConfigs.ts';
import { nodeKindFromEnv, realNodeLayout } from './nodeLayout.ts';

const layout = realNodeLayout(clusterLayout('/repo', '/repo/.breakwater'));

describe('nodeKindFromEnv', () => {
  it.each([
    ['nothing set, where a node can run', undefined, true, 'kubelet'],
    ['nothing set, where none can', undefined, false, 'none'],
    ['an empty value', '', true, 'kubelet'],
    ['kubelet', 'kubelet', false, 'kubelet'],
    ['none', 'none', true, 'none'],
  ] as const)('reads %s as %s', (_name, value, canRun, kind) => {
    const env = value === undefined ? {} : { BREAKWATER_NODE: value };
    expect(nodeKindFromEnv(env, canRun)).toBe(kind);
  });

  it('says the local node is retired, and what to use instead', () => {
    expect(() => nodeKindFromEnv({ BREAKWATER_NODE: 'local' }, true)).toThrow(
      /retired.*BREAKWATER_NODE=kubelet.*none/s,
    );
  });

  it('refuses a node it does not know, naming the choices', () => {
    expect(() => nodeKindFromEnv({ BREAKWATER_NODE: 'kind' }, true)).toThrow('(kubelet or none)');
  });
});

describe('the real node configuration', () => {
  it('keeps containerd state under .breakwater and never lowers oom_score_adj', () => {
    const toml = containerdConfig({
      layout,
      sandboxImage: 'localhost/breakwater/pause:abc',
      runc: '/usr/sbin/runc',
    });
    expect(toml).toContain('root = "/repo/.breakwater/realnode/containerd/root"');
    expect(toml).toContain('state = "/repo/.breakwater/realnode/containerd/state"');
    expect(toml).toContain('address = "/repo/.breakwater/realnode/containerd/containerd.sock"');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('sandbox_image = "localhost/breakwater/pause:abc"');
    expect(toml).toContain('SystemdCgroup = false');
    expect(toml).toContain('conf_dir = "/repo/.breakwater/realnode/cni/net.d"');
  });

  it('runs the kubelet with cgroupfs on cgroup v1, webhook auth and the cluster DNS', () => {
    const config = JSON.parse(kubeletConfig({ layout, caFile: '/ca.crt' })) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      podCIDR: '10.244.0.0/24',
      clusterDNS: ['10.0.0.10'],
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true } },
      authorization: { mode: 'Webhook' },
      readOnlyPort: 0,
    });
  });

  it('keeps host-local allocations out of /var/lib/cni', () => {
    const conflist = JSON.parse(cniConflist(layout)) as {
      plugins: { type: string; ipam?: { dataDir: string } }[];
    };
    expect(conflist.plugins.map((plugin) => plugin.type)).toEqual(['bridge', 'portmap']);
    expect(conflist.plugins[0]?.ipam?.dataDir).toBe('/repo/.breakwater/realnode/cni/ipam');
  });

  it('leaves the host conntrack sysctls and route_localnet alone in kube-proxy', () => {
    const config = JSON.parse(kubeProxyConfig(layout)) as Record<string, unknown>;
    expect(config).toMatchObject({
      mode: 'iptables',
      clusterCIDR: '10.244.0.0/24',
      conntrack: { maxPerCore: 0, min: 0 },
      iptables: { localhostNodePorts: false },
    });
  });

  it('never pulls the CoreDNS image and pins the kube-dns address', () => {
    const objects = coreDnsManifests('localhost/breakwater/coredns:v1') as {
      kind: string;
      spec?: {
        clusterIP?: string;
        template?: { spec: { containers: { imagePullPolicy: string }[] } };
      };
    }[];
    const deployment = objects.find((object) => object.kind === 'Deployment');
    expect(deployment?.spec?.template?.spec.containers[0]?.imagePullPolicy).toBe('Never');
    expect(objects.find((object) => object.kind === 'Service')?.spec?.clusterIP).toBe('10.0.0.10');
  });
});

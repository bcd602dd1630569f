import {
  clusterDnsIp,
  clusterDomain,
  cniBinDir,
  cniNetworkName,
  podBridge,
  podCidr,
  realNodeName,
  realNodePorts,
  type RealNodeLayout,
} from './nodeLayout.ts';

/**
 * The real node's configuration files, as pure functions of its layout: containerd's TOML, the
 * KubeletConfiguration, the CNI network and the KubeProxyConfiguration. The Kubernetes ones are
 * JSON, which is YAML too.
 */

export interface ContainerdInputs {
  readonly layout: RealNodeLayout;
  /** The locally built pause image; containerd never pulls it. */
  readonly sandboxImage: string;
  readonly runc: string;
}

export function containerdConfig({ layout, sandboxImage, runc }: ContainerdInputs): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const quoted = JSON.stringify;
  return [
    "# Written by tools/cluster/realNode: the local cluster's own containerd, not the host's.",
    'version = 2',
    `root = ${quoted(layout.containerdRoot)}`,
    `state = ${quoted(layout.containerdState)}`,
    // Snapshotters this host cannot run would only log errors.
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", ' +
      '"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
    '',
    '[grpc]',
    `  address = ${quoted(layout.containerdSocket)}`,
    '[ttrpc]',
    `  address = ${quoted(`${layout.containerdSocket}.ttrpc`)}`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
    // Without this, the default /opt/containerd is made on the host.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${quoted(`${layout.containerdRoot}/opt`)}`,
    '',
    `[${cri}]`,
    `  sandbox_image = ${quoted(sandboxImage)}`,
    // The machine lacks CAP_SYS_RESOURCE: asking for a lower oom_score_adj than containerd's own
    // fails every sandbox with "can't get final child's PID from pipe: EOF".
    '  restrict_oom_score_adj = true',
    '  enable_selinux = false',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
    `  BinaryName = ${quoted(runc)}`,
    `[${cri}.cni]`,
    `  bin_dir = ${quoted(cniBinDir)}`,
    `  conf_dir = ${quoted(layout.cniConfDir)}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}

export interface KubeletInputs {
  readonly layout: RealNodeLayout;
  readonly caFile: string;
}

export function kubeletConfig({ layout, caFile }: KubeletInputs): string {
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    // This machine has cgroup v1 and no systemd; containerd runs runc with cgroupfs too.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: caFile },
    },
    authorization: { mode: 'Webhook' },
    podCIDR: podCidr,
    clusterDNS: [clusterDnsIp],
    clusterDomain,
    port: realNodePorts.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: realNodePorts.kubeletHealthz,
    resolvConf: '/etc/resolv.conf',
    // Images are imported, never pulled: garbage-collecting one would lose it for good.
    imageGCHighThresholdPercent: 100,
    // A shared development machine's disk is not this node's to defend.
    evictionHard: {
      'memory.available': '50Mi',
      'nodefs.available': '2%',
      'imagefs.available': '2%',
    },
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** One bridge, host-local addresses and portmap; containerd adds the loopback itself. */
export function cniConflist(layout: RealNodeLayout): string {
  const conflist = {
    cniVersion: '1.0.0',
    name: cniNetworkName,
    plugins: [
      {
        type: 'bridge',
        bridge: podBridge,
        isGateway: true,
        // Pods reach the host and each other; nothing beyond needs masquerading here.
        ipMasq: false,
        // A pod that reaches itself through its Service comes back over the bridge.
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: podCidr }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: layout.cniDataDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

export function kubeProxyConfig(layout: RealNodeLayout): string {
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: layout.kubeProxyKubeconfig },
    hostnameOverride: realNodeName,
    clusterCIDR: podCidr,
    detectLocalMode: 'ClusterCIDR',
    healthzBindAddress: `127.0.0.1:${realNodePorts.kubeProxyHealthz}`,
    metricsBindAddress: `127.0.0.1:${realNodePorts.kubeProxyMetrics}`,
    // Zero leaves the host's conntrack sysctls alone (they are the host's, not the cluster's).
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
      udpTimeout: '0s',
      udpStreamTimeout: '0s',
    },
    // NodePorts on 127.0.0.1 would need net.ipv4.conf.all.route_localnet=1 on the host.
    iptables: { localhostNodePorts: false },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

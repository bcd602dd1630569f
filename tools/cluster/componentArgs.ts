import { join } from 'node:path';
import {
  clusterName,
  serviceClusterIpRange,
  type ClusterLayout,
  type ClusterPorts,
  type ComponentName,
} from './layout.ts';
import type { PkiFiles } from './pki.ts';
import type { PortClaim } from './ports.ts';

/** The issuer of service-account tokens; TokenRequest audiences default to it. */
export const serviceAccountIssuer = 'https://kubernetes.default.svc.cluster.local';

export interface ComponentCommand {
  readonly name: ComponentName;
  readonly command: string;
  readonly args: readonly string[];
  readonly ports: readonly PortClaim[];
}

export interface ComponentCommandInputs {
  readonly layout: ClusterLayout;
  readonly ports: ClusterPorts;
  readonly pki: PkiFiles;
  readonly binaries: Readonly<Record<ComponentName, string>>;
  /**
   * With the real node (BREAKWATER_NODE=kubelet): the host's address. Pods reach the API server
   * there, through the `kubernetes` Service, so it listens beyond loopback and advertises it.
   */
  readonly realNodeAddress?: string;
}

/** The kubeconfig each control-plane client uses, next to the rest of the cluster's state. */
export function componentKubeconfig(
  layout: ClusterLayout,
  component: 'kube-controller-manager' | 'kube-scheduler',
): string {
  return join(layout.stateDir, `${component}.kubeconfig`);
}

const loopback = '127.0.0.1';

/** How each component is started: command line and the ports it will listen on. */
export function componentCommand(
  name: ComponentName,
  inputs: ComponentCommandInputs,
): ComponentCommand {
  const { layout, ports, pki, binaries } = inputs;
  switch (name) {
    case 'etcd': {
      const client = `http://${loopback}:${ports.etcdClient}`;
      const peer = `http://${loopback}:${ports.etcdPeer}`;
      return {
        name,
        command: binaries.etcd,
        args: [
          '--name=breakwater',
          `--data-dir=${layout.etcdDataDir}`,
          `--listen-client-urls=${client}`,
          `--advertise-client-urls=${client}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--initial-cluster=breakwater=${peer}`,
          // A throwaway test cluster: speed matters more than surviving a power cut.
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        ports: [
          { port: ports.etcdClient, purpose: 'etcd client port', variable: 'BREAKWATER_ETCD_PORT' },
          {
            port: ports.etcdPeer,
            purpose: 'etcd peer port',
            variable: 'BREAKWATER_ETCD_PEER_PORT',
          },
        ],
      };
    }
    case 'kube-apiserver': {
      const serving = pki.leaf('apiserver');
      const kubeletClient = pki.leaf('apiserver-kubelet-client');
      const frontProxy = pki.leaf('front-proxy-client');
      const address = inputs.realNodeAddress;
      return {
        name,
        command: binaries['kube-apiserver'],
        args: [
          `--etcd-servers=http://${loopback}:${ports.etcdClient}`,
          ...(address === undefined
            ? [`--bind-address=${loopback}`, `--advertise-address=${loopback}`]
            : // The `kubernetes` Service's endpoint is the host's address; clients on the host
              // keep using 127.0.0.1. The kubelet is reached at the Node's InternalIP, not by name.
              [
                '--bind-address=0.0.0.0',
                `--advertise-address=${address}`,
                '--kubelet-preferred-address-types=InternalIP',
              ]),
          `--secure-port=${ports.apiserver}`,
          `--cert-dir=${pki.dir}`,
          `--tls-cert-file=${serving.cert}`,
          `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${pki.ca.cert}`,
          '--authorization-mode=Node,RBAC',
          // The default plugins stay on; NodeRestriction is what makes Node authorization mean something.
          '--enable-admission-plugins=NodeRestriction',
          '--allow-privileged=true',
          `--service-cluster-ip-range=${serviceClusterIpRange}`,
          `--service-account-issuer=${serviceAccountIssuer}`,
          `--service-account-key-file=${pki.serviceAccountPublicKey}`,
          `--service-account-signing-key-file=${pki.serviceAccountKey}`,
          `--kubelet-client-certificate=${kubeletClient.cert}`,
          `--kubelet-client-key=${kubeletClient.key}`,
          // The aggregation layer, so that an APIService (metrics-server for the HPA) can be added.
          `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
          '--requestheader-allowed-names=front-proxy-client',
          '--requestheader-username-headers=X-Remote-User',
          '--requestheader-group-headers=X-Remote-Group',
          '--requestheader-extra-headers-prefix=X-Remote-Extra-',
          `--proxy-client-cert-file=${frontProxy.cert}`,
          `--proxy-client-key-file=${frontProxy.key}`,
          // Endpoints may not hold a loopback address; without a node no pod needs the
          // `kubernetes` Service anyway.
          ...(address === undefined ? ['--endpoint-reconciler-type=none'] : []),
          '--enable-priority-and-fairness=true',
          '--profiling=false',
        ],
        ports: [
          {
            port: ports.apiserver,
            purpose: 'kube-apiserver secure port',
            variable: 'BREAKWATER_APISERVER_PORT',
          },
        ],
      };
    }
    case 'kube-controller-manager': {
      const kubeconfig = componentKubeconfig(layout, name);
      const serving = pki.leaf('controller-manager-serving');
      return {
        name,
        command: binaries['kube-controller-manager'],
        args: [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          `--bind-address=${loopback}`,
          `--secure-port=${ports.controllerManager}`,
          `--tls-cert-file=${serving.cert}`,
          `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${pki.ca.cert}`,
          // Every controller, among them deployment, replicaset, garbage collector, HPA,
          // endpointslice, serviceaccount-token, namespace and disruption.
          '--controllers=*',
          `--service-account-private-key-file=${pki.serviceAccountKey}`,
          `--root-ca-file=${pki.ca.cert}`,
          '--use-service-account-credentials=true',
          `--cluster-signing-cert-file=${pki.ca.cert}`,
          `--cluster-signing-key-file=${pki.ca.key}`,
          `--cluster-name=${clusterName}`,
          `--service-cluster-ip-range=${serviceClusterIpRange}`,
          '--leader-elect=false',
          '--profiling=false',
        ],
        ports: [
          {
            port: ports.controllerManager,
            purpose: 'kube-controller-manager secure port',
            variable: 'BREAKWATER_CONTROLLER_MANAGER_PORT',
          },
        ],
      };
    }
    case 'kube-scheduler': {
      const kubeconfig = componentKubeconfig(layout, name);
      const serving = pki.leaf('scheduler-serving');
      return {
        name,
        command: binaries['kube-scheduler'],
        args: [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          `--bind-address=${loopback}`,
          `--secure-port=${ports.scheduler}`,
          `--tls-cert-file=${serving.cert}`,
          `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${pki.ca.cert}`,
          '--leader-elect=false',
          '--profiling=false',
        ],
        ports: [
          {
            port: ports.scheduler,
            purpose: 'kube-scheduler secure port',
            variable: 'BREAKWATER_SCHEDULER_PORT',
          },
        ],
      };
    }
  }
}

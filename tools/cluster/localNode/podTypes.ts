/**
 * The slice of the core/v1 wire types the local node reads and writes, as the API server
 * sends them (timestamps are RFC 3339 strings). Hand-written because only a few fields
 * matter here and @kubernetes/client-node's models turn timestamps into Dates.
 */
import type { KubeObject, ObjectMeta } from '../../../platform/src/kube/kubeObject.ts';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface Pod extends KubeObject {
  metadata: ObjectMeta & { deletionGracePeriodSeconds?: number };
  spec: PodSpec;
  status?: PodStatus;
}

export interface PodSpec {
  nodeName?: string;
  containers: Container[];
  initContainers?: Container[];
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  readinessGates?: { conditionType: string }[];
  volumes?: Volume[];
  securityContext?: PodSecurityContext;
}

/**
 * A pod volume. Process mode creates `secret` and `configMap` volumes; container mode also
 * `emptyDir` and the projected service-account volume (containerVolumes.ts).
 */
export interface Volume {
  name: string;
  secret?: SecretVolumeSource;
  configMap?: ConfigMapVolumeSource;
  emptyDir?: { medium?: string; sizeLimit?: string };
  projected?: { sources?: ProjectedSource[]; defaultMode?: number };
}

export interface ConfigMapVolumeSource {
  name?: string;
  items?: SecretKeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface ProjectedSource {
  serviceAccountToken?: { path: string; expirationSeconds?: number; audience?: string };
  configMap?: { name?: string; items?: SecretKeyToPath[] };
  downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string } }[] };
  secret?: unknown;
  clusterTrustBundle?: unknown;
}

/** The fields of a pod's securityContext that container mode applies. */
export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: { type: string };
}

/** The fields of a container's securityContext that container mode applies. */
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}

export interface SecretVolumeSource {
  secretName?: string;
  items?: SecretKeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface SecretKeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  ports?: ContainerPort[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    secretKeyRef?: KeySelector;
    configMapKeyRef?: KeySelector;
    resourceFieldRef?: { resource: string; containerName?: string };
  };
}

export interface KeySelector {
  name?: string;
  key: string;
  optional?: boolean;
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export type PortRef = number | string;

export interface Probe {
  httpGet?: {
    path?: string;
    port: PortRef;
    host?: string;
    scheme?: 'HTTP' | 'HTTPS';
    httpHeaders?: { name: string; value: string }[];
  };
  tcpSocket?: { port: PortRef; host?: string };
  exec?: { command?: string[] };
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface PodCondition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
  observedGeneration?: number;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface PodStatus {
  phase?: PodPhase;
  conditions?: PodCondition[];
  message?: string;
  reason?: string;
  hostIP?: string;
  hostIPs?: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
  observedGeneration?: number;
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: ContainerStateWire;
  lastState?: ContainerStateWire;
}

export interface ContainerStateWire {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

export interface Secret extends KubeObject {
  data?: Record<string, string>;
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** `ns/name`, for logs. */
export function podRef(pod: Pod): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

/** Metav1.Time on the wire: RFC 3339 at second precision. */
export function wireTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The few fields of Pods and Deployments that status is computed from. */
import type { KubeObject } from '../../../platform/src/kube/kubeObject.ts';

export interface PodView extends KubeObject {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    /** The team's own agent container's only (spec.agent): which image it runs. */
    containerStatuses?: { name: string; image?: string; imageID?: string }[];
  };
}

export interface DeploymentView extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

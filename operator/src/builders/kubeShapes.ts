/**
 * The core object shapes the builders write, as plain data. @kubernetes/client-node
 * declares them as classes, and our output is object literals sent as JSON, never
 * instances; `Plain` keeps the client's field types without the class.
 */
import type {
  V1Container,
  V1DeploymentSpec,
  V1EnvVar,
  V1LabelSelector,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
  V1PodDisruptionBudgetSpec,
  V1PodSpec,
  V1PolicyRule,
  V1Probe,
  V1ResourceRequirements,
  V1RoleRef,
  V1SecurityContext,
  V1ServiceSpec,
  V1Volume,
  V1VolumeMount,
  RbacV1Subject,
  V2HorizontalPodAutoscalerSpec,
  V2MetricSpec,
} from '@kubernetes/client-node';

export type Plain<T> = T extends Date
  ? string
  : T extends readonly (infer Item)[]
    ? Plain<Item>[]
    : T extends object
      ? { -readonly [Key in keyof T]: Plain<T[Key]> }
      : T;

export type Container = Plain<V1Container>;
export type DeploymentSpec = Plain<V1DeploymentSpec>;
export type EnvVar = Plain<V1EnvVar>;
export type HorizontalPodAutoscalerSpec = Plain<V2HorizontalPodAutoscalerSpec>;
export type LabelSelector = Plain<V1LabelSelector>;
export type MetricSpec = Plain<V2MetricSpec>;
export type NetworkPolicyPeer = Plain<V1NetworkPolicyPeer>;
export type NetworkPolicyPort = Plain<V1NetworkPolicyPort>;
export type PodDisruptionBudgetSpec = Plain<V1PodDisruptionBudgetSpec>;
export type PodSpec = Plain<V1PodSpec>;
export type PolicyRule = Plain<V1PolicyRule>;
export type Probe = Plain<V1Probe>;
export type ResourceRequirements = Plain<V1ResourceRequirements>;
export type RoleRef = Plain<V1RoleRef>;
export type SecurityContext = Plain<V1SecurityContext>;
export type ServiceSpec = Plain<V1ServiceSpec>;
export type Subject = Plain<RbacV1Subject>;
export type Volume = Plain<V1Volume>;
export type VolumeMount = Plain<V1VolumeMount>;

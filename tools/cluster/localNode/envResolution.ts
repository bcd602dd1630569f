/**
 * A container's environment, resolved the way kubelet does: `envFrom` sources first, then
 * `env` in order (each `value` may reference variables defined before it), with values
 * from the pod's own fields, Secrets and ConfigMaps. The local node adds `PORT_<NAME>` for
 * every named port, and those win over anything the spec says.
 *
 * Fetching the Secrets and ConfigMaps is the only I/O; building the environment is pure.
 */
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { portEnvName, type PortMap } from './portAllocation.ts';
import type { ConfigMap, Container, EnvVar, Pod, Secret } from './podTypes.ts';
import { expandVariables, lookupIn } from './variableExpansion.ts';

export interface ReferencedSources {
  readonly secrets: ReadonlySet<string>;
  readonly configMaps: ReadonlySet<string>;
}

/** The Secrets and ConfigMaps a container reads, by name; a missing object maps to undefined. */
export interface ConfigSources {
  readonly secrets: ReadonlyMap<string, Secret | undefined>;
  readonly configMaps: ReadonlyMap<string, ConfigMap | undefined>;
}

export interface EnvironmentInput {
  readonly pod: Pod;
  readonly container: Container;
  readonly ports: PortMap;
  readonly podIP: string;
  readonly sources: ConfigSources;
}

export type EnvironmentResult =
  | { readonly ok: true; readonly env: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly message: string };

export function referencedSources(container: Container): ReferencedSources {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const from of container.envFrom ?? []) {
    if (from.secretRef?.name !== undefined) secrets.add(from.secretRef.name);
    if (from.configMapRef?.name !== undefined) configMaps.add(from.configMapRef.name);
  }
  for (const env of container.env ?? []) {
    const secretName = env.valueFrom?.secretKeyRef?.name;
    const configMapName = env.valueFrom?.configMapKeyRef?.name;
    if (secretName !== undefined) secrets.add(secretName);
    if (configMapName !== undefined) configMaps.add(configMapName);
  }
  return { secrets, configMaps };
}

export async function fetchSources(
  client: Pick<KubeClient, 'get'>,
  namespace: string,
  refs: ReferencedSources,
): Promise<ConfigSources> {
  const secrets = await Promise.all(
    [...refs.secrets].map(
      async (name) => [name, await client.get<Secret>(Kinds.Secret, namespace, name)] as const,
    ),
  );
  const configMaps = await Promise.all(
    [...refs.configMaps].map(
      async (name) =>
        [name, await client.get<ConfigMap>(Kinds.ConfigMap, namespace, name)] as const,
    ),
  );
  return { secrets: new Map(secrets), configMaps: new Map(configMaps) };
}

class EnvironmentError extends Error {}

export function buildEnvironment(input: EnvironmentInput): EnvironmentResult {
  try {
    return { ok: true, env: build(input) };
  } catch (err) {
    if (err instanceof EnvironmentError) return { ok: false, message: err.message };
    throw err;
  }
}

function build(input: EnvironmentInput): Map<string, string> {
  const { pod, container, ports, sources } = input;
  const namespace = pod.metadata.namespace ?? '';
  const env = new Map<string, string>();
  const portVariables = new Set<string>();
  for (const [name, port] of Object.entries(ports)) {
    env.set(portEnvName(name), String(port));
    portVariables.add(portEnvName(name));
  }
  const set = (name: string, value: string): void => {
    if (!portVariables.has(name)) env.set(name, value);
  };

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef?.name !== undefined) {
      const cm = sources.configMaps.get(from.configMapRef.name);
      if (cm === undefined) {
        if (from.configMapRef.optional === true) continue;
        throw new EnvironmentError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(configMapEntries(cm))) set(prefix + key, value);
    }
    if (from.secretRef?.name !== undefined) {
      const secret = sources.secrets.get(from.secretRef.name);
      if (secret === undefined) {
        if (from.secretRef.optional === true) continue;
        throw new EnvironmentError(`secret "${from.secretRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(secret.data ?? {})) {
        set(prefix + key, decodeBase64(value));
      }
    }
  }

  for (const variable of container.env ?? []) {
    const value = envValue(variable, input, namespace, env);
    if (value !== undefined) set(variable.name, value);
  }
  return env;
}

function envValue(
  variable: EnvVar,
  input: EnvironmentInput,
  namespace: string,
  defined: ReadonlyMap<string, string>,
): string | undefined {
  const from = variable.valueFrom;
  if (from === undefined) return expandVariables(variable.value ?? '', lookupIn(defined));
  if (from.fieldRef !== undefined) {
    const value = fieldValue(input.pod, from.fieldRef.fieldPath, input.podIP);
    if (value === undefined) {
      throw new EnvironmentError(
        `env ${variable.name}: fieldRef ${from.fieldRef.fieldPath} is not supported by the local node`,
      );
    }
    return value;
  }
  if (from.secretKeyRef !== undefined) {
    const ref = from.secretKeyRef;
    const secret = input.sources.secrets.get(ref.name ?? '');
    if (secret === undefined) {
      if (ref.optional === true) return undefined;
      throw new EnvironmentError(`secret "${ref.name ?? ''}" not found`);
    }
    const raw = secret.data?.[ref.key];
    if (raw === undefined) {
      if (ref.optional === true) return undefined;
      throw new EnvironmentError(
        `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name ?? ''}`,
      );
    }
    return decodeBase64(raw);
  }
  if (from.configMapKeyRef !== undefined) {
    const ref = from.configMapKeyRef;
    const cm = input.sources.configMaps.get(ref.name ?? '');
    if (cm === undefined) {
      if (ref.optional === true) return undefined;
      throw new EnvironmentError(`configmap "${ref.name ?? ''}" not found`);
    }
    const value = configMapEntries(cm)[ref.key];
    if (value === undefined) {
      if (ref.optional === true) return undefined;
      throw new EnvironmentError(
        `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name ?? ''}`,
      );
    }
    return value;
  }
  throw new EnvironmentError(
    `env ${variable.name}: only value, fieldRef, secretKeyRef and configMapKeyRef are supported by the local node`,
  );
}

/**
 * The value of a downward-API field path, or undefined when the local node does not
 * support it. Every pod's IP is the loopback address: pods are processes on this host.
 */
export function fieldValue(pod: Pod, fieldPath: string, podIP: string): string | undefined {
  const meta = pod.metadata;
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.podIPs':
    case 'status.hostIP':
    case 'status.hostIPs':
      return podIP;
  }
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed !== null) {
    const map = keyed[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[keyed[2] ?? ''] ?? '';
  }
  if (fieldPath === 'metadata.labels') return formatMap(meta.labels);
  if (fieldPath === 'metadata.annotations') return formatMap(meta.annotations);
  return undefined;
}

/** The downward API's `key="value"` lines, sorted by key. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((key) => `${key}=${JSON.stringify(map?.[key] ?? '')}`)
    .join('\n');
}

function configMapEntries(cm: ConfigMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(cm.binaryData ?? {})) out[key] = decodeBase64(value);
  for (const [key, value] of Object.entries(cm.data ?? {})) out[key] = value;
  return out;
}

function decodeBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('utf8');
}

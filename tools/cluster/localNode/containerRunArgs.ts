/**
 * Container mode's translation of one container of a pod into `podman run` arguments, the way
 * kubelet hands a container to its runtime: the image with `command` as ENTRYPOINT and `args`
 * as CMD (Kubernetes' override rules; `$(VAR)` expanded from the container's environment), the
 * environment, the volumes at their mount paths, and the pod's and container's
 * securityContext — runAsUser/runAsGroup, runAsNonRoot checked against the image's user as
 * kubelet checks it, readOnlyRootFilesystem (no tmpfs added: a real node adds none),
 * capabilities, allowPrivilegeEscalation, privileged, fsGroup and supplementalGroups, seccomp
 * Unconfined. Networking is the host's, so the ports the local node allocated (PORT_<NAME>)
 * are the ports the container listens on, as in process mode.
 *
 * Pure: podWorker gathers the inputs, containerRuntime.ts runs the result.
 */
import type { Container, Pod } from './podTypes.ts';
import { podRef } from './podTypes.ts';
import { expandVariables, lookupIn } from './variableExpansion.ts';

/** The label every container-mode container carries: the pod's uid, for cleanup. */
export const podUidLabel = 'localnode.breakwater.dev/pod-uid';

export interface ContainerMount {
  readonly hostPath: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export interface ContainerRunInput {
  readonly pod: Pod;
  readonly container: Container;
  /** The podman container's name (unique per pod uid and container). */
  readonly name: string;
  readonly image: string;
  /** The image's configured USER (`uid`, `uid:gid`, a name, or '' for root). */
  readonly imageUser: string;
  readonly env: ReadonlyMap<string, string>;
  readonly mounts: readonly ContainerMount[];
}

export type ContainerRunArgs =
  | { readonly ok: true; readonly args: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export function containerRunArgs(input: ContainerRunInput): ContainerRunArgs {
  const { pod, container } = input;
  const security = securityArgs(input);
  if (!security.ok) return security;
  const expand = (value: string) => expandVariables(value, lookupIn(input.env));
  const args = [
    '--rm',
    `--name=${input.name}`,
    `--label=${podUidLabel}=${pod.metadata.uid ?? ''}`,
    // Only what is in local storage runs: there is no registry to pull from.
    '--pull=never',
    '--network=host',
    // A pod's hostname is its name; the host's network needs a UTS namespace of its own for that.
    '--uts=private',
    `--hostname=${pod.metadata.name ?? ''}`,
    ...[...input.env].map(([name, value]) => `--env=${name}=${value}`),
    ...input.mounts.map((m) => `--volume=${m.hostPath}:${m.mountPath}${m.readOnly ? ':ro' : ''}`),
    ...security.args,
    ...(container.workingDir === undefined ? [] : [`--workdir=${container.workingDir}`]),
    // `command` replaces ENTRYPOINT and with it CMD; `args` alone replaces CMD.
    ...(container.command === undefined
      ? []
      : [`--entrypoint=${JSON.stringify(container.command.map(expand))}`]),
    input.image,
    ...(container.args ?? []).map(expand),
  ];
  return { ok: true, args };
}

function securityArgs(input: ContainerRunInput): ContainerRunArgs {
  const { pod, container } = input;
  const podContext = pod.spec.securityContext ?? {};
  const context = container.securityContext ?? {};
  const uid = context.runAsUser ?? podContext.runAsUser;
  const gid = context.runAsGroup ?? podContext.runAsGroup;
  const args: string[] = [];
  if (uid !== undefined)
    args.push(`--user=${String(uid)}${gid === undefined ? '' : `:${String(gid)}`}`);
  if (context.runAsNonRoot ?? podContext.runAsNonRoot) {
    const refusal = nonRootRefusal(
      uid,
      input.imageUser,
      `(pod: "${podRef(pod)}", container: ${container.name})`,
    );
    if (refusal !== undefined) {
      return { ok: false, reason: 'CreateContainerConfigError', message: refusal };
    }
  }
  for (const group of [podContext.fsGroup, ...(podContext.supplementalGroups ?? [])]) {
    if (group !== undefined) args.push(`--group-add=${String(group)}`);
  }
  if (context.privileged === true) args.push('--privileged');
  if (context.readOnlyRootFilesystem === true) args.push('--read-only', '--read-only-tmpfs=false');
  if (context.allowPrivilegeEscalation === false) args.push('--security-opt=no-new-privileges');
  for (const cap of context.capabilities?.drop ?? []) args.push(`--cap-drop=${cap}`);
  for (const cap of context.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  const seccomp = (context.seccompProfile ?? podContext.seccompProfile)?.type;
  if (seccomp === 'Unconfined') args.push('--security-opt=seccomp=unconfined');
  return { ok: true, args };
}

/**
 * Kubelet's runAsNonRoot check: the user that will run — runAsUser, else the image's USER —
 * must be numeric and not 0. Undefined when it passes, else kubelet's message.
 */
export function nonRootRefusal(
  runAsUser: number | undefined,
  imageUser: string,
  where: string,
): string | undefined {
  if (runAsUser !== undefined) {
    return runAsUser === 0 ? `container's runAsUser breaks non-root policy ${where}` : undefined;
  }
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || user === '0') {
    return `container has runAsNonRoot and image will run as root ${where}`;
  }
  if (!/^\d+$/.test(user)) {
    return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${where}`;
  }
  return undefined;
}

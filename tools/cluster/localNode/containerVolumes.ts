/**
 * Container mode's volumes: which host directory goes to each of a container's `volumeMounts`.
 * Secret and ConfigMap volumes are the directories secretVolumes.ts keeps (read-only, as
 * kubelet mounts them); an emptyDir is a directory of the pod's, writable by any user (kubelet
 * makes it 0777); the projected volume the ServiceAccount admission plugin adds
 * (kube-api-access-*: a token, the cluster CA, the namespace) is the directory
 * serviceAccountCredentials.ts keeps. Other volume types are refused with a message naming
 * the volume, as a node that cannot mount them would refuse the pod.
 *
 * Pure: the caller says where each kind of volume lives on this host.
 */
import { join } from 'node:path';
import type { ContainerMount } from './containerRunArgs.ts';
import type { Container, Pod, Volume } from './podTypes.ts';

export interface VolumeDirs {
  /** The directory of a Secret or ConfigMap volume. */
  readonly kept: (volume: string) => string | undefined;
  /** Where the pod's emptyDir volumes live, one subdirectory each. */
  readonly emptyDirRoot: string;
  /** The projected service-account files; undefined when the pod mounts no token. */
  readonly serviceAccount: string | undefined;
}

export type MountsResult =
  | {
      readonly ok: true;
      readonly mounts: readonly ContainerMount[];
      readonly emptyDirs: readonly string[];
    }
  | { readonly ok: false; readonly message: string };

export function containerMounts(pod: Pod, container: Container, dirs: VolumeDirs): MountsResult {
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  const mounts: ContainerMount[] = [];
  const emptyDirs = new Set<string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (volume === undefined) {
      return {
        ok: false,
        message: `volumeMounts "${mount.name}": the pod has no volume of that name`,
      };
    }
    const source = hostDirectory(volume, dirs);
    if (!source.ok) return source;
    if (source.emptyDir) emptyDirs.add(source.dir);
    const hostPath =
      mount.subPath === undefined || mount.subPath === ''
        ? source.dir
        : join(source.dir, mount.subPath);
    mounts.push({
      hostPath,
      mountPath: mount.mountPath,
      readOnly: source.readOnly || mount.readOnly === true,
    });
  }
  return { ok: true, mounts, emptyDirs: [...emptyDirs] };
}

type HostDirectory =
  | {
      readonly ok: true;
      readonly dir: string;
      readonly readOnly: boolean;
      readonly emptyDir: boolean;
    }
  | { readonly ok: false; readonly message: string };

function hostDirectory(volume: Volume, dirs: VolumeDirs): HostDirectory {
  if (volume.secret !== undefined || volume.configMap !== undefined) {
    const dir = dirs.kept(volume.name);
    if (dir !== undefined) return { ok: true, dir, readOnly: true, emptyDir: false };
  }
  if (volume.emptyDir !== undefined) {
    return { ok: true, dir: join(dirs.emptyDirRoot, volume.name), readOnly: false, emptyDir: true };
  }
  if (
    volume.projected !== undefined &&
    isServiceAccountVolume(volume) &&
    dirs.serviceAccount !== undefined
  ) {
    return { ok: true, dir: dirs.serviceAccount, readOnly: true, emptyDir: false };
  }
  return {
    ok: false,
    message: `volume "${volume.name}": the local node's container mode mounts secret, configMap and emptyDir volumes and the projected service-account token volume, not this one`,
  };
}

/**
 * The admission plugin's kube-api-access volume: a token at `token`, the cluster CA at
 * `ca.crt`, the namespace at `namespace` — exactly the files serviceAccountCredentials writes.
 */
function isServiceAccountVolume(volume: Volume): boolean {
  const sources = volume.projected?.sources ?? [];
  const paths = sources.flatMap((s) => [
    ...(s.serviceAccountToken === undefined ? [] : [s.serviceAccountToken.path]),
    ...(s.configMap?.items ?? []).map((i) => i.path),
    ...(s.downwardAPI?.items ?? []).map((i) => i.path),
  ]);
  const known = new Set(['token', 'ca.crt', 'namespace']);
  return (
    sources.some((s) => s.serviceAccountToken !== undefined) &&
    sources.every((s) => s.secret === undefined && s.clusterTrustBundle === undefined) &&
    paths.every((p) => known.has(p))
  );
}

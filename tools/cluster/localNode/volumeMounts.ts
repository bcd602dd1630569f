/**
 * A container's volume mounts on a node without filesystem isolation. The local node cannot put
 * a directory at a container's `mountPath`, so, as it does with named ports, it rewrites the
 * environment instead: a value that is a mount path, or a path under one, becomes the host
 * directory standing for that volume. `$(VAR)` in args expands from the rewritten values, so a
 * Deployment that passes `--dir=$(KEYS_DIR)` reads the volume here and at `mountPath` on a real
 * node. A path written literally into args is not rewritten. Mounts of volumes the local node
 * does not create (anything but Secret and ConfigMap volumes) are left out. Container mode
mounts volumes for real instead (containerVolumes.ts).
 */
import { join } from 'node:path';
import type { Container } from './podTypes.ts';

export interface HostMount {
  /** Where the container expects the volume. */
  readonly mountPath: string;
  /** The directory on this host that holds it. */
  readonly hostPath: string;
}

export function hostMounts(
  container: Container,
  volumeDir: (volume: string) => string | undefined,
): HostMount[] {
  const mounts: HostMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const dir = volumeDir(mount.name);
    const mountPath = mount.mountPath.replace(/\/+$/, '');
    if (dir === undefined || mountPath === '') continue;
    mounts.push({
      mountPath,
      hostPath:
        mount.subPath === undefined || mount.subPath === '' ? dir : join(dir, mount.subPath),
    });
  }
  // The deepest mount wins, as a mount inside another shadows it.
  return mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
}

/** The environment with every value under a mount path pointing at its host directory. */
export function translateMountPaths(
  env: ReadonlyMap<string, string>,
  mounts: readonly HostMount[],
): Map<string, string> {
  const translated = new Map<string, string>();
  for (const [name, value] of env) {
    const mount = mounts.find((m) => value === m.mountPath || value.startsWith(`${m.mountPath}/`));
    translated.set(
      name,
      mount === undefined ? value : mount.hostPath + value.slice(mount.mountPath.length),
    );
  }
  return translated;
}

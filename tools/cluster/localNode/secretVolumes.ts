/**
 * A pod's Secret volumes, kept as kubelet keeps them: a directory per volume holding one file
 * per key (or per `items` entry), written atomically — the files sit in a timestamped
 * directory, `..data` points at it and each key is a symlink through `..data`, so a reader
 * sees the old set or the new one, never half of each. The Secrets are read again every
 * `syncMs` and a volume is rewritten only when its content changed: that is how a rotated key
 * reaches a running process without a restart (kubelet takes up to its sync period, a minute,
 * plus its cache's TTL; tests should not wait that long). A missing Secret leaves an optional
 * volume empty and fails a required one, like kubelet's FailedMount. ConfigMap volumes are
 * kept the same way (configMapPayload.ts); other volume types are not created here.
 *
 * Building a volume's files from its Secret (`secretPayload`) is pure; the rest is I/O.
 */
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Cancel, Clock } from '../../../platform/src/time/clock.ts';
import type { KubeClient } from '../../../platform/src/kube/kubeClient.ts';
import { Kinds } from '../../../platform/src/kube/resourceKinds.ts';
import { errorMessage, type Logger } from './log.ts';
import { configMapPayload } from './configMapPayload.ts';
import type {
  ConfigMap,
  Pod,
  Secret,
  SecretKeyToPath,
  SecretVolumeSource,
  Volume,
} from './podTypes.ts';

/** Kubelet's default file mode for a Secret volume (0644). */
const DEFAULT_MODE = 0o644;
const DATA_LINK = '..data';

/** The files of one volume: path relative to the volume → bytes and mode. */
export type VolumePayload = ReadonlyMap<
  string,
  { readonly content: Buffer; readonly mode: number }
>;

export type PayloadResult =
  | { readonly ok: true; readonly payload: VolumePayload }
  | { readonly ok: false; readonly message: string };

/** What kubelet would write for `volume` given its Secret (undefined when it does not exist). */
export function secretPayload(
  volumeName: string,
  source: SecretVolumeSource,
  secret: Secret | undefined,
): PayloadResult {
  const optional = source.optional === true;
  const secretName = source.secretName ?? '';
  if (secret === undefined) {
    return optional
      ? { ok: true, payload: new Map() }
      : {
          ok: false,
          message: `MountVolume.SetUp failed for volume "${volumeName}" : secret "${secretName}" not found`,
        };
  }
  const data = secret.data ?? {};
  const mode = source.defaultMode ?? DEFAULT_MODE;
  const payload = new Map<string, { content: Buffer; mode: number }>();
  const items: readonly SecretKeyToPath[] =
    source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) {
      if (optional) continue;
      return {
        ok: false,
        message: `MountVolume.SetUp failed for volume "${volumeName}" : references non-existent secret key: ${item.key}`,
      };
    }
    payload.set(item.path, { content: Buffer.from(value, 'base64'), mode: item.mode ?? mode });
  }
  return { ok: true, payload };
}

/**
 * Writes `payload` into `dir` as kubelet's atomic writer does, unless it holds exactly that
 * already. Returns whether anything changed.
 */
export async function writeVolume(
  dir: string,
  payload: VolumePayload,
  now: number,
): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  if (await holds(dir, payload)) return false;
  const previous = await readlink(join(dir, DATA_LINK)).catch(() => undefined);
  // Kubelet's name for it: `..2026_11_22_16_35_38.` and a random suffix.
  const versioned = await mkdtemp(join(dir, `..${timestamp(now)}.`));
  // mkdtemp makes it 0700; kubelet's is 0755, so a container's non-root user reads the files.
  await chmod(versioned, 0o755);
  const stamp = basename(versioned);
  for (const [path, file] of payload) {
    await mkdir(dirname(join(versioned, path)), { recursive: true });
    await writeFile(join(versioned, path), file.content, { mode: file.mode });
  }
  // The swap: one rename of a symlink, atomic on the same filesystem.
  const temporary = join(dir, `${DATA_LINK}_tmp`);
  await rm(temporary, { force: true });
  await symlink(stamp, temporary);
  await rename(temporary, join(dir, DATA_LINK));
  const wanted = new Set([...payload.keys()].map((path) => path.split('/')[0] ?? path));
  for (const name of wanted) {
    const link = join(dir, name);
    const exists = await lstat(link).then(
      () => true,
      () => false,
    );
    if (!exists) await symlink(join(DATA_LINK, name), link);
  }
  for (const name of await readdir(dir)) {
    if (name.startsWith('..') || wanted.has(name)) continue;
    await rm(join(dir, name), { force: true }); // a key the Secret no longer has
  }
  if (previous !== undefined && previous !== stamp) {
    await rm(join(dir, previous), { recursive: true, force: true });
  }
  return true;
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/[-:T]/g, '_');
}

async function holds(dir: string, payload: VolumePayload): Promise<boolean> {
  const current = await readlink(join(dir, DATA_LINK)).catch(() => undefined);
  if (current === undefined) return false;
  const listed = await listFiles(join(dir, current));
  if (listed.length !== payload.size) return false;
  for (const path of listed) {
    const wanted = payload.get(path);
    if (wanted === undefined) return false;
    const content = await readFile(join(dir, current, path));
    if (!content.equals(wanted.content)) return false;
  }
  return true;
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(root, path)));
    else files.push(path);
  }
  return files;
}

export interface SecretVolumesOptions {
  readonly pod: Pod;
  readonly client: Pick<KubeClient, 'get'>;
  readonly clock: Clock;
  readonly log: Logger;
  /** Where the pod's volumes live on this host, one directory each. */
  readonly dir: string;
  readonly syncMs: number;
}

export type MountResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export class SecretVolumes {
  readonly #o: SecretVolumesOptions;
  readonly #volumes: readonly Volume[];
  #mounted: Promise<MountResult> | undefined;
  #timer: Cancel | undefined;
  #stopped = false;

  constructor(options: SecretVolumesOptions) {
    this.#o = options;
    this.#volumes = (options.pod.spec.volumes ?? []).filter(
      (v) => v.secret !== undefined || v.configMap !== undefined,
    );
  }

  /** The directory on this host that stands for volume `name`, if it is a Secret or ConfigMap volume. */
  hostPath(name: string): string | undefined {
    return this.#volumes.some((v) => v.name === name) ? join(this.#o.dir, name) : undefined;
  }

  /** Writes every Secret volume (once; later calls share the outcome) and starts the refresh. */
  mount(): Promise<MountResult> {
    this.#mounted ??= this.#sync().then((result) => {
      if (!result.ok)
        this.#mounted = undefined; // the next container start tries again
      else this.#schedule();
      return result;
    });
    return this.#mounted;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.();
    this.#timer = undefined;
    await rm(this.#o.dir, { recursive: true, force: true });
  }

  #schedule(): void {
    if (this.#stopped || this.#volumes.length === 0) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.#sync().then((result) => {
        if (!result.ok) this.#o.log.warn('secret volume not refreshed', { error: result.message });
        this.#schedule();
      });
    }, this.#o.syncMs);
  }

  async #sync(): Promise<MountResult> {
    const namespace = this.#o.pod.metadata.namespace ?? '';
    for (const volume of this.#volumes) {
      if (this.#stopped) break;
      try {
        const built = await this.#payload(namespace, volume);
        if (!built.ok) return built;
        const changed = await writeVolume(
          join(this.#o.dir, volume.name),
          built.payload,
          this.#o.clock.now(),
        );
        if (changed)
          this.#o.log.info('secret volume written', {
            volume: volume.name,
            files: built.payload.size,
          });
      } catch (err) {
        return {
          ok: false,
          message: `MountVolume.SetUp failed for volume "${volume.name}" : ${errorMessage(err)}`,
        };
      }
    }
    return { ok: true };
  }

  async #payload(namespace: string, volume: Volume): Promise<PayloadResult> {
    if (volume.configMap !== undefined) {
      const configMap = await this.#o.client.get<ConfigMap>(
        Kinds.ConfigMap,
        namespace,
        volume.configMap.name ?? '',
      );
      return configMapPayload(volume.name, volume.configMap, configMap);
    }
    const source: SecretVolumeSource = volume.secret ?? {};
    const secret = await this.#o.client.get<Secret>(
      Kinds.Secret,
      namespace,
      source.secretName ?? '',
    );
    return secretPayload(volume.name, source, secret);
  }
}

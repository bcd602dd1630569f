/**
 * What kubelet writes for a ConfigMap volume: one file per key of `data` (text) and
 * `binaryData` (base64 on the wire), or per `items` entry; the Secret volume's rules otherwise
 * (secretVolumes.ts writes both the same way).
 */
import type { PayloadResult } from './secretVolumes.ts';
import type { ConfigMap, ConfigMapVolumeSource, SecretKeyToPath } from './podTypes.ts';

/** Kubelet's default file mode for a ConfigMap volume (0644). */
const DEFAULT_MODE = 0o644;

export function configMapPayload(
  volumeName: string,
  source: ConfigMapVolumeSource,
  configMap: ConfigMap | undefined,
): PayloadResult {
  const optional = source.optional === true;
  if (configMap === undefined) {
    return optional
      ? { ok: true, payload: new Map() }
      : {
          ok: false,
          message: `MountVolume.SetUp failed for volume "${volumeName}" : configmap "${source.name ?? ''}" not found`,
        };
  }
  const values = new Map<string, Buffer>([
    ...Object.entries(configMap.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'utf8')] as const),
    ...Object.entries(configMap.binaryData ?? {}).map(
      ([k, v]) => [k, Buffer.from(v, 'base64')] as const,
    ),
  ]);
  const mode = source.defaultMode ?? DEFAULT_MODE;
  const items: readonly SecretKeyToPath[] =
    source.items ?? [...values.keys()].map((key) => ({ key, path: key }));
  const payload = new Map<string, { content: Buffer; mode: number }>();
  for (const item of items) {
    const content = values.get(item.key);
    if (content === undefined) {
      if (optional) continue;
      return {
        ok: false,
        message: `MountVolume.SetUp failed for volume "${volumeName}" : configmap references non-existent config key: ${item.key}`,
      };
    }
    payload.set(item.path, { content, mode: item.mode ?? mode });
  }
  return { ok: true, payload };
}

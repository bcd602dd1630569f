/** The local node's command line. */
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LocalNodeOptions {
  readonly kubeconfig: string;
  readonly stateDir: string;
  readonly imagesFile: string;
  readonly nodeName: string;
  /** The first crash-loop wait; kubelet's is 10 s, tests use less. */
  readonly restartBackoffBaseMs: number;
  /** How often Secret volumes are read again; kubelet's is its sync period, a minute or more. */
  readonly secretVolumeSyncMs: number;
  readonly kubeletVersion: string;
  /** The checkout, for `${repo}` in the image table. */
  readonly repo: string;
  /** Every pod's status.podIP: an address, or `auto` for this host's first non-loopback IPv4. */
  readonly podIP: string;
}

export const usage = `usage: main.ts --kubeconfig <path> [--state-dir .breakwater/localnode]
  [--images tools/cluster/images.json] [--node-name local-node]
  [--restart-backoff-base-ms 10000] [--secret-volume-sync-ms 5000]
  [--kubelet-version v1.36.3] [--repo <checkout>] [--pod-ip 127.0.0.1|auto|<address>]`;

const defaultRepo = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

const flags = {
  '--kubeconfig': 'kubeconfig',
  '--state-dir': 'stateDir',
  '--images': 'imagesFile',
  '--node-name': 'nodeName',
  '--restart-backoff-base-ms': 'restartBackoffBaseMs',
  '--secret-volume-sync-ms': 'secretVolumeSyncMs',
  '--kubelet-version': 'kubeletVersion',
  '--repo': 'repo',
  '--pod-ip': 'podIP',
} as const;

type FlagName = keyof typeof flags;

function isFlag(name: string): name is FlagName {
  return Object.hasOwn(flags, name);
}

/** Parses `--flag value` and `--flag=value`; throws with the usage on anything else. */
export function parseOptions(argv: readonly string[], cwd: string): LocalNodeOptions {
  const values: Partial<Record<(typeof flags)[FlagName], string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (!isFlag(name)) throw new Error(`unknown argument ${arg}\n${usage}`);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new Error(`${name} needs a value\n${usage}`);
    values[flags[name]] = value;
  }
  if (values.kubeconfig === undefined) throw new Error(`--kubeconfig is required\n${usage}`);
  const repo = resolve(cwd, values.repo ?? defaultRepo);
  const base = positiveInteger('--restart-backoff-base-ms', values.restartBackoffBaseMs ?? '10000');
  const secretVolumeSyncMs = positiveInteger(
    '--secret-volume-sync-ms',
    values.secretVolumeSyncMs ?? '5000',
  );
  const kubeletVersion = values.kubeletVersion ?? 'v1.36.3';
  if (values.podIP !== undefined && values.podIP !== 'auto' && isIP(values.podIP) === 0) {
    throw new Error(`--pod-ip must be an IP address or auto, got ${values.podIP}`);
  }
  return {
    kubeconfig: resolve(cwd, values.kubeconfig),
    stateDir: resolve(cwd, values.stateDir ?? '.breakwater/localnode'),
    imagesFile: isAbsolute(values.imagesFile ?? '')
      ? (values.imagesFile ?? '')
      : resolve(
          values.imagesFile === undefined ? repo : cwd,
          values.imagesFile ?? 'tools/cluster/images.json',
        ),
    nodeName: values.nodeName ?? 'local-node',
    restartBackoffBaseMs: base,
    secretVolumeSyncMs,
    kubeletVersion,
    repo,
    podIP: values.podIP ?? '127.0.0.1',
  };
}

function positiveInteger(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${flag} must be a positive integer, got ${raw}`);
  }
  return value;
}

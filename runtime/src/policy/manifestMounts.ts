/**
 * The Secret files a pod gets from the operator, made from the Secrets among `--manifests`: a
 * Bedrock or Vertex backend's credentials, an MCP server's headers, and the passwords and
 * CAs of the rate-limit store and the journal's store. The runtime reads each of them from a
 * file in every mode (the cluster's mounts, re-read when they change); with `--manifests`
 * they are written, laid out as the pod's mounts are, to a private directory of this
 * process's (0700, each file 0600) whenever the manifests are read, and the variables that
 * name those files point there. A variable set in the environment wins: its file is used as
 * given. The journal's key goes in memory instead (PolicyIntake.useDurabilityKey).
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { PolicyDocument, SecretKeyRef } from '../../../contract/src/policy/policyDocument.ts';
import {
  BACKEND_CREDENTIALS_DIR_ENV,
  DURABILITY_CA_FILE,
  DURABILITY_CA_FILE_ENV,
  DURABILITY_PASSWORD_FILE,
  DURABILITY_PASSWORD_FILE_ENV,
  DURABILITY_SENTINEL_PASSWORD_FILE,
  DURABILITY_SENTINEL_PASSWORD_FILE_ENV,
  MCP_HEADERS_DIR_ENV,
  RATE_LIMIT_STORE_CA_FILE,
  RATE_LIMIT_STORE_CA_FILE_ENV,
  RATE_LIMIT_STORE_PASSWORD_FILE,
  RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE,
  RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV,
} from '../../../contract/src/pod/runtimeEnvironment.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** A Secret as a manifest holds it. */
export interface SecretObject {
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

/** Where each mount goes under the directory, and the variable that names it there. */
const LAYOUT = {
  backends: { env: BACKEND_CREDENTIALS_DIR_ENV, path: 'backends' },
  mcp: { env: MCP_HEADERS_DIR_ENV, path: 'mcp' },
  storePassword: {
    env: RATE_LIMIT_STORE_PASSWORD_FILE_ENV,
    path: `rate-limit-store/${RATE_LIMIT_STORE_PASSWORD_FILE}`,
  },
  storeCa: {
    env: RATE_LIMIT_STORE_CA_FILE_ENV,
    path: `rate-limit-store/${RATE_LIMIT_STORE_CA_FILE}`,
  },
  journalPassword: {
    env: DURABILITY_PASSWORD_FILE_ENV,
    path: `durability/${DURABILITY_PASSWORD_FILE}`,
  },
  journalCa: { env: DURABILITY_CA_FILE_ENV, path: `durability/${DURABILITY_CA_FILE}` },
  storeSentinelPassword: {
    env: RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE_ENV,
    path: `rate-limit-store/${RATE_LIMIT_STORE_SENTINEL_PASSWORD_FILE}`,
  },
  journalSentinelPassword: {
    env: DURABILITY_SENTINEL_PASSWORD_FILE_ENV,
    path: `durability/${DURABILITY_SENTINEL_PASSWORD_FILE}`,
  },
} as const;

/** The directory's name: the prefix, then the pid of the process that made it, then `-…`. */
const PREFIX = 'breakwater-secrets-';

export class ManifestMounts {
  readonly #root: string;
  /** The variables the environment already set: those files are the user's, never written. */
  readonly #given: ReadonlySet<string>;
  /** The process's environment with every variable it left unset pointing into the directory. */
  readonly env: Env;

  /**
   * A new directory under `parent`, named with this process's pid, after removing the ones
   * left by runtimes that ended without removing theirs (SIGKILL, the OOM killer, a lost
   * machine): no secret outlives its process for longer than the next start.
   */
  static create(env: Env, parent = tmpdir()): ManifestMounts {
    removeOrphans(parent);
    return new ManifestMounts(env, mkdtempSync(join(parent, `${PREFIX}${String(process.pid)}-`)));
  }

  constructor(env: Env, root: string) {
    this.#root = root;
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const given = new Set<string>();
    const overlay: Record<string, string | undefined> = { ...env };
    for (const { env: name, path } of Object.values(LAYOUT)) {
      if (env[name] === undefined) overlay[name] = join(root, path);
      else given.add(name);
    }
    this.#given = given;
    this.env = overlay;
  }

  /**
   * Writes the files the pod would have for `doc` from `secret` (a Secret among the
   * manifests by name), as the kubelet does: a Secret not there, or a key it lacks, leaves no
   * file, and the runtime reports that as it does in a pod.
   */
  write(doc: Readonly<PolicyDocument>, secret: (name: string) => SecretObject | undefined): void {
    const dirs: (readonly [keyof typeof LAYOUT, string, string | undefined])[] = [
      ...doc.backends.map(
        (b) =>
          ['backends', b.name, 'credentialsSecret' in b ? b.credentialsSecret : undefined] as const,
      ),
      ...(doc.mcpServers ?? []).map((m) => ['mcp', m.name, m.headersSecret] as const),
    ];
    for (const [mount, name, secretName] of dirs) {
      if (this.#given.has(LAYOUT[mount].env)) continue;
      this.#directory(join(this.#root, LAYOUT[mount].path, name), secretName, secret);
    }
    const store = doc.rateLimit.store?.redis;
    const journal = doc.durability?.store.redis;
    const files: [keyof typeof LAYOUT, SecretKeyRef | undefined][] = [
      ['storePassword', store?.passwordSecretRef],
      ['storeCa', store?.tls?.caSecretRef],
      ['journalPassword', journal?.passwordSecretRef],
      ['journalCa', journal?.tls?.caSecretRef],
      ['storeSentinelPassword', store?.sentinel?.passwordSecretRef],
      ['journalSentinelPassword', journal?.sentinel?.passwordSecretRef],
    ];
    for (const [mount, ref] of files) {
      if (this.#given.has(LAYOUT[mount].env)) continue;
      const file = join(this.#root, LAYOUT[mount].path);
      const value = ref === undefined ? undefined : secretFiles(secret(ref.name)).get(ref.key);
      if (value === undefined) rmSync(file, { force: true });
      else this.#writeAtomically(file, value);
    }
  }

  /** Removes the directory and every secret in it. */
  remove(): void {
    rmSync(this.#root, { recursive: true, force: true });
  }

  /** Every key of the Secret as a file of `dir`; keys the Secret no longer has go. */
  #directory(
    dir: string,
    secretName: string | undefined,
    secret: (name: string) => SecretObject | undefined,
  ): void {
    const files =
      secretName === undefined ? new Map<string, Buffer>() : secretFiles(secret(secretName));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const old of readdirSync(dir))
      if (!files.has(old)) rmSync(join(dir, old), { recursive: true, force: true });
    for (const [key, value] of files) this.#writeAtomically(join(dir, key), value);
  }

  /**
   * A reader sees the old file or the new one, never half of one, and never a file of neither
   * in a directory read whole (an MCP server's headers): written beside the directory, then
   * renamed into it, as a Secret volume swaps its files.
   */
  #writeAtomically(file: string, value: Buffer): void {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const next = join(this.#root, `.writing-${String(process.pid)}`);
    writeFileSync(next, value, { mode: 0o600 });
    renameSync(next, file);
  }
}

/** A Secret's keys and their bytes; `stringData` wins over `data`, as the API server has it. */
function secretFiles(secret: SecretObject | undefined): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const [key, encoded] of Object.entries(secret?.data ?? {}))
    files.set(key, Buffer.from(encoded, 'base64'));
  for (const [key, plain] of Object.entries(secret?.stringData ?? {}))
    files.set(key, Buffer.from(plain, 'utf8'));
  // A key is a file name (as the API server allows Secret keys): nothing that leaves the directory.
  for (const key of files.keys())
    if (!/^[-._a-zA-Z0-9]+$/.test(key) || key === '.' || key === '..') files.delete(key);
  return files;
}

/**
 * Removes the directories under `parent` whose process is gone. Only this user's: another
 * user's is theirs to remove. A pid taken again by another process keeps its directory until
 * that one ends too, which errs on the side of a process still running.
 */
function removeOrphans(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^breakwater-secrets-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || running(pid)) continue;
    const dir = join(parent, name);
    try {
      const stat = lstatSync(dir);
      if (!stat.isDirectory() || stat.uid !== process.getuid?.()) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

/** Whether a process has this pid (one that signals refuse is running too). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

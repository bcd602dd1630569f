/**
 * How an image runs on the local node. There is no container runtime: an image is a row in
 * a table (tools/cluster/images.json) that says which local command each of its commands
 * is, and what its ENTRYPOINT and CMD are. Kubernetes' rules for `command` and `args`
 * then apply unchanged: `command` replaces the entrypoint, `args` replace the CMD.
 */
import { readFile } from 'node:fs/promises';
import type { Container } from './podTypes.ts';

export interface ImageEntry {
  /** A repository (any tag matches), a full reference, or a glob with `*`. */
  readonly image: string;
  /** Image command name → local argv prefix (`breakwater-runtime` → node runtime/src/main.ts). */
  readonly commands: Readonly<Record<string, readonly string[]>>;
  /** The image's ENTRYPOINT, in image terms (a key of `commands` or a host command). */
  readonly entrypoint: readonly string[];
  /** The image's CMD: default args when the container sets neither command nor args. */
  readonly cmd: readonly string[];
  /** Commands not in `commands` run as host commands (`sh`, `sleep`) instead of failing. */
  readonly hostCommands: boolean;
  /** Extra environment the local command needs; the pod's env wins. */
  readonly env: Readonly<Record<string, string>>;
  /** Where the process starts; the pod's state directory when unset. */
  readonly workingDir: string | undefined;
}

export interface ImageTable {
  /** Where the table came from, for messages. */
  readonly source: string;
  readonly entries: readonly ImageEntry[];
}

/** Values for `${name}` placeholders in the table: `repo` (the checkout) and `node` (this Node binary). */
export type Placeholders = Readonly<Record<string, string>>;

export async function loadImageTable(
  path: string,
  source: string,
  placeholders: Placeholders,
): Promise<ImageTable> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON: ${(err as Error).message}`);
  }
  return parseImageTable(json, source, placeholders);
}

export function parseImageTable(
  json: unknown,
  source: string,
  placeholders: Placeholders,
): ImageTable {
  const fill = (value: string): string =>
    value.replace(/\$\{(\w+)\}/g, (whole, name: string) => placeholders[name] ?? whole);
  const fail = (field: string, problem: string): never => {
    throw new Error(`${source}: ${field} ${problem}`);
  };
  const stringList = (value: unknown, field: string): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      return fail(field, 'must be a list of strings');
    }
    return value.map(fill);
  };
  const stringMap = (value: unknown, field: string): Record<string, string> => {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail(field, 'must be an object of strings');
    }
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== 'string') return fail(`${field}.${key}`, 'must be a string');
      out[key] = fill(v);
    }
    return out;
  };

  if (typeof json !== 'object' || json === null || !('images' in json)) {
    return fail('top level', 'must be an object with an "images" list');
  }
  const images: unknown = json.images;
  if (!Array.isArray(images)) return fail('images', 'must be a list');
  const entries = images.map((raw: unknown, i): ImageEntry => {
    const at = `images[${i}]`;
    if (typeof raw !== 'object' || raw === null) return fail(at, 'must be an object');
    const row = raw as Record<string, unknown>;
    if (typeof row.image !== 'string' || row.image === '') {
      return fail(`${at}.image`, 'must be a non-empty string');
    }
    const commands: Record<string, string[]> = {};
    const rawCommands: unknown = row.commands ?? {};
    if (typeof rawCommands !== 'object' || rawCommands === null || Array.isArray(rawCommands)) {
      return fail(`${at}.commands`, 'must be an object of command lists');
    }
    for (const [name, argv] of Object.entries(rawCommands)) {
      const list = stringList(argv, `${at}.commands.${name}`);
      if (list.length === 0) return fail(`${at}.commands.${name}`, 'must not be empty');
      commands[name] = list;
    }
    if (row.hostCommands !== undefined && typeof row.hostCommands !== 'boolean') {
      return fail(`${at}.hostCommands`, 'must be true or false');
    }
    if (row.workingDir !== undefined && typeof row.workingDir !== 'string') {
      return fail(`${at}.workingDir`, 'must be a string');
    }
    return {
      image: row.image,
      commands,
      entrypoint: stringList(row.entrypoint, `${at}.entrypoint`),
      cmd: stringList(row.cmd, `${at}.cmd`),
      hostCommands: row.hostCommands === true,
      env: stringMap(row.env, `${at}.env`),
      workingDir: typeof row.workingDir === 'string' ? fill(row.workingDir) : undefined,
    };
  });
  return { source, entries };
}

/**
 * The first entry that matches `image`. An entry without a tag matches every tag of its
 * repository; `busybox` and `docker.io/library/busybox` are the same repository.
 */
export function findImage(table: ImageTable, image: string): ImageEntry | undefined {
  const candidates = referenceForms(image);
  return table.entries.find((entry) => {
    if (entry.image.includes('*')) {
      const pattern = globPattern(entry.image);
      return candidates.some((c) => pattern.test(c));
    }
    const wanted = new Set(exactForms(entry.image));
    return candidates.some((c) => wanted.has(c));
  });
}

export type Launch =
  | { readonly ok: true; readonly argv: readonly string[]; readonly entry: ImageEntry }
  | { readonly ok: false; readonly reason: string; readonly message: string };

/**
 * The local argv for a container. `expand` applies `$(VAR)` expansion to the container's
 * own command and args (not to the image's entrypoint, as kubelet does).
 */
export function resolveLaunch(
  table: ImageTable,
  container: Container,
  expand: (value: string) => string,
): Launch {
  const image = container.image ?? '';
  const entry = findImage(table, image);
  if (entry === undefined) {
    return {
      ok: false,
      reason: 'ErrImagePull',
      message: `image ${image} has no local command in ${table.source}`,
    };
  }
  const command = container.command?.map(expand) ?? entry.entrypoint;
  const args = container.args?.map(expand) ?? (container.command === undefined ? entry.cmd : []);
  const [first, ...rest] = [...command, ...args];
  if (first === undefined) {
    return {
      ok: false,
      reason: 'CreateContainerError',
      message: `container ${container.name} has no command and image ${image} has no entrypoint in ${table.source}`,
    };
  }
  const local = entry.commands[first];
  if (local !== undefined) return { ok: true, argv: [...local, ...rest], entry };
  if (entry.hostCommands) return { ok: true, argv: [first, ...rest], entry };
  return {
    ok: false,
    reason: 'CreateContainerError',
    message: `command "${first}" of image ${image} has no local command in ${table.source} (known: ${Object.keys(entry.commands).join(', ') || 'none'})`,
  };
}

interface Reference {
  readonly repository: string;
  /** `:tag`, `@digest`, both, or empty. */
  readonly suffix: string;
}

function parseReference(reference: string): Reference {
  const at = reference.indexOf('@');
  const name = at < 0 ? reference : reference.slice(0, at);
  const digest = at < 0 ? '' : reference.slice(at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const repository = colon > slash ? name.slice(0, colon) : name;
  const tag = colon > slash ? name.slice(colon) : '';
  return { repository, suffix: tag + digest };
}

/** Every way to write `reference` and its repository: `busybox:1.36` → busybox:1.36, busybox, docker.io/library/busybox:1.36, docker.io/library/busybox. */
export function referenceForms(reference: string): string[] {
  const { repository, suffix } = parseReference(reference);
  const normalized = normalizeRepository(repository);
  return [...new Set([reference, repository, normalized + suffix, normalized])];
}

/** The forms an entry stands for: with a tag or digest, only that one. */
function exactForms(reference: string): string[] {
  const { repository, suffix } = parseReference(reference);
  return [repository + suffix, normalizeRepository(repository) + suffix];
}

/** Docker Hub's implicit registry and `library/` namespace made explicit. */
function normalizeRepository(repository: string): string {
  const first = repository.split('/')[0] ?? '';
  const hasRegistry =
    repository.includes('/') &&
    (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return repository;
  return repository.includes('/') ? `docker.io/${repository}` : `docker.io/library/${repository}`;
}

function globPattern(glob: string): RegExp {
  const escaped = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}

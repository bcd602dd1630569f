/**
 * Where the API server is and how to prove who we are, read the way kubectl reads it:
 * an explicit path, else $KUBECONFIG (files merged, first wins), else ~/.kube/config, else the
 * pod's service account. Covers what a controller uses — client certificates, bearer tokens
 * (a token file is re-read, since projected tokens rotate), basic auth, the cluster CA, TLS
 * server name and skip-verify. Certificate, key and CA files are followed too (`tlsFiles.ts`):
 * a new connection uses them as they are on disk. A user that needs an exec plugin or an auth provider is handed
 * to @kubernetes/client-node, loaded only then: importing it costs a process about 80 MB of
 * memory, more than the operator needs for everything else.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { TlsFiles, type TlsMaterial, type TlsPart } from './tlsFiles.ts';

/**
 * What HttpKubeClient needs from a kubeconfig. This module's `Kubeconfig` provides it, and so
 * does @kubernetes/client-node's `KubeConfig`, which tests and tools may pass instead.
 */
export interface ConnectionSource {
  getCurrentCluster(): { readonly server: string } | null;
  /** Sets TLS material (ca, cert, key, rejectUnauthorized, servername) and auth headers. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
  /**
   * TLS material for a new connection, when it can change on disk (rotated certificate, key
   * or CA files). Called as each connection is made, not per request; without it, the
   * material of `applyToHTTPSOptions` serves every connection.
   */
  tlsForConnection?(): TlsMaterial;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A token file is read again after this long (client-go re-reads it every minute too). */
const TOKEN_FILE_TTL_MS = 60_000;

interface NamedCluster {
  name: string;
  cluster?: {
    server?: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
  };
}

interface NamedUser {
  name: string;
  user?: {
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    token?: string;
    tokenFile?: string;
    username?: string;
    password?: string;
    exec?: unknown;
    'auth-provider'?: unknown;
  };
}

interface NamedContext {
  name: string;
  context?: { cluster?: string; user?: string; namespace?: string };
}

interface KubeconfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

/** Cluster and user of the current context, with file paths made absolute. */
interface Resolved {
  readonly cluster: NonNullable<NamedCluster['cluster']>;
  /** The context's namespace, if it names one. */
  readonly namespace?: string | undefined;
  readonly user: NonNullable<NamedUser['user']>;
  /** Where the files came from, for client-node when it has to take over. */
  readonly paths: readonly string[];
}

/** How to read a kubeconfig beyond where it is, as kubectl's flags say. */
export interface KubeconfigSelection {
  /** Use this context instead of the current one (`--context`). */
  readonly context?: string | undefined;
}

export class Kubeconfig implements ConnectionSource {
  /** The context's default namespace (kubectl's when no `--namespace` is given). */
  readonly namespace: string | undefined;
  readonly #server: string;
  readonly #tls: TlsFiles;
  readonly #user: Resolved['user'];
  readonly #delegate: Promise<ConnectionSource> | undefined;
  #token: { value: string; readAt: number } | undefined;

  private constructor(resolved: Resolved) {
    const { cluster, user } = resolved;
    if (cluster.server === undefined || cluster.server === '')
      throw new Error('kubeconfig: the current cluster has no server');
    this.#server = cluster.server;
    this.namespace = resolved.namespace;
    this.#tls = new TlsFiles(
      {
        ca: fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']),
        cert: fileOrData(user['client-certificate'], user['client-certificate-data']),
        key: fileOrData(user['client-key'], user['client-key-data']),
      },
      {
        ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
        ...(cluster['tls-server-name'] === undefined
          ? {}
          : { servername: cluster['tls-server-name'] }),
      },
    );
    this.#user = user;
    this.#delegate =
      user.exec === undefined && user['auth-provider'] === undefined
        ? undefined
        : clientNodeConfig(resolved.paths);
    this.#delegate?.catch(() => undefined); // reported on first use
  }

  /** From `path`, else $KUBECONFIG, ~/.kube/config, the pod's service account, in that order. */
  static load(path?: string, selection: KubeconfigSelection = {}): Kubeconfig {
    if (path !== undefined && path !== '') return Kubeconfig.fromFiles([path], selection);
    const fromEnv = (process.env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
    if (fromEnv.length > 0) return Kubeconfig.fromFiles(fromEnv, selection);
    const home = join(homedir(), '.kube', 'config');
    if (existsSync(home)) return Kubeconfig.fromFiles([home], selection);
    if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined) return Kubeconfig.inCluster();
    throw new Error(
      'no kubeconfig: pass --kubeconfig, set KUBECONFIG, create ~/.kube/config or run in a pod',
    );
  }

  /** The current context of the merged files (for each name, the first file that has it wins). */
  static fromFiles(paths: readonly string[], selection: KubeconfigSelection = {}): Kubeconfig {
    const merged: Required<Omit<KubeconfigFile, 'current-context'>> & { current?: string } = {
      clusters: [],
      users: [],
      contexts: [],
    };
    for (const path of paths) {
      const file = parseFile(path);
      merged.current ??= file['current-context'];
      const base = dirname(path);
      for (const c of file.clusters ?? []) {
        if (merged.clusters.some((m) => m.name === c.name)) continue;
        const ca = c.cluster?.['certificate-authority'];
        merged.clusters.push(
          ca === undefined
            ? c
            : { ...c, cluster: { ...c.cluster, 'certificate-authority': absolute(base, ca) } },
        );
      }
      for (const u of file.users ?? []) {
        if (merged.users.some((m) => m.name === u.name)) continue;
        const user = { ...u.user };
        for (const field of ['client-certificate', 'client-key', 'tokenFile'] as const) {
          const value = user[field];
          if (value !== undefined) user[field] = absolute(base, value);
        }
        merged.users.push({ ...u, user });
      }
      for (const c of file.contexts ?? []) {
        if (!merged.contexts.some((m) => m.name === c.name)) merged.contexts.push(c);
      }
    }
    const contextName = selection.context ?? merged.current;
    const context = merged.contexts.find((c) => c.name === contextName)?.context;
    if (context === undefined)
      throw new Error(
        selection.context === undefined
          ? `kubeconfig ${paths.join(delimiter)}: no current context`
          : `kubeconfig ${paths.join(delimiter)}: no context named ${selection.context}`,
      );
    const cluster = merged.clusters.find((c) => c.name === context.cluster)?.cluster;
    if (cluster === undefined)
      throw new Error(`kubeconfig: context ${String(contextName)} names no known cluster`);
    const user = merged.users.find((u) => u.name === context.user)?.user ?? {};
    return new Kubeconfig({ cluster, user, paths, namespace: context.namespace });
  }

  /** The pod's service account, as client-go's rest.InClusterConfig reads it. */
  static inCluster(dir = SERVICE_ACCOUNT_DIR): Kubeconfig {
    const host = process.env['KUBERNETES_SERVICE_HOST'] ?? '';
    const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
    const hostPart = host.includes(':') ? `[${host}]` : host;
    return new Kubeconfig({
      cluster: {
        server: `https://${hostPart}:${port}`,
        'certificate-authority': join(dir, 'ca.crt'),
      },
      user: { tokenFile: join(dir, 'token') },
      paths: [],
    });
  }

  getCurrentCluster(): { readonly server: string } {
    return { server: this.#server };
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    if (this.#delegate !== undefined) {
      await (await this.#delegate).applyToHTTPSOptions(options);
      return;
    }
    Object.assign(options, this.#tls.current);
    const headers = (options.headers ??= {}) as Record<string, string>;
    const token = this.#bearerToken();
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    else if (this.#user.username !== undefined)
      options.auth = `${this.#user.username}:${this.#user.password ?? ''}`;
  }

  tlsForConnection(): TlsMaterial {
    return this.#tls.forConnection();
  }

  #bearerToken(): string | undefined {
    const { token, tokenFile } = this.#user;
    if (token !== undefined && token !== '') return token;
    if (tokenFile === undefined) return undefined;
    const now = Date.now();
    if (this.#token === undefined || now - this.#token.readAt >= TOKEN_FILE_TTL_MS) {
      this.#token = { value: readFileSync(tokenFile, 'utf8').trim(), readAt: now };
    }
    return this.#token.value;
  }
}

function parseFile(path: string): KubeconfigFile {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as KubeconfigFile;
  } catch {
    // YAML, as kubeconfigs usually are: the parser is loaded only for them, not in a pod.
    const yaml = createRequire(import.meta.url)('yaml') as { parse(text: string): unknown };
    return yaml.parse(text) as KubeconfigFile;
  }
}

function fileOrData(file: string | undefined, data: string | undefined): TlsPart {
  if (data !== undefined && data !== '') return { data: Buffer.from(data, 'base64') };
  if (file !== undefined && file !== '') return { file };
  return undefined;
}

const absolute = (base: string, path: string): string =>
  isAbsolute(path) ? path : join(base, path);

async function clientNodeConfig(paths: readonly string[]): Promise<ConnectionSource> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  const [first, ...rest] = paths;
  if (first === undefined)
    throw new Error('kubeconfig: an exec or auth-provider user needs a file');
  config.loadFromFile(first);
  for (const path of rest) {
    const more = new KubeConfig();
    more.loadFromFile(path);
    config.mergeConfig(more);
  }
  return config;
}

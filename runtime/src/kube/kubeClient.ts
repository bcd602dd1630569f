/**
 * The one boundary between Breakwater and the Kubernetes API. Reconcilers and the runtime
 * talk to the `KubeClient` interface; `HttpKubeClient` implements it over the REST API with
 * the credentials of a @kubernetes/client-node KubeConfig. Content types are explicit:
 * server-side apply for everything Breakwater owns, JSON merge patch only where a patch is
 * meant (the runtime's own pod annotations), never strategic merge.
 */
import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { Kinds, resourcePath, type ResourceKind } from './resourceKinds.ts';
import type { KubeObject } from './kubeObject.ts';

export interface ListOptions {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit?: number | undefined;
}

export interface ListResult<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export interface ApplyOptions {
  readonly fieldManager: string;
  /** Take ownership of fields another manager set (controllers own what they apply). */
  readonly force?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string;
  /** Ask the server to end the watch after this long; the informer then resumes it. */
  readonly timeoutSeconds?: number | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

export type PatchType = 'merge' | 'json';

export interface KubeClient {
  get<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined>;
  list<T extends KubeObject>(kind: ResourceKind, options?: ListOptions): Promise<ListResult<T>>;
  /** Server-side apply of `obj` (apiVersion, kind, metadata.name and namespace must be set). */
  apply<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T>;
  /** Server-side apply to the status subresource. */
  applyStatus<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T>;
  patch<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType,
    subresource?: string,
  ): Promise<T>;
  create<T extends KubeObject>(kind: ResourceKind, obj: T, subresource?: string): Promise<T>;
  /** Deletes; a missing object is not an error (returns false). */
  delete(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    gracePeriodSeconds?: number,
  ): Promise<boolean>;
  /**
   * Streams watch events to `onEvent` until the server ends the watch, `signal` aborts it,
   * or it fails. Resolves on a clean end; rejects with KubeApiError on an HTTP error.
   */
  watch<T extends KubeObject>(
    kind: ResourceKind,
    options: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** An error answer from the API server, with its `Status` reason when it sent one. */
export class KubeApiError extends Error {
  readonly code = 'KubeApiError';
  readonly status: number;
  readonly reason: string | undefined;

  constructor(status: number, reason: string | undefined, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export function isKubeApiError(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError;
}

export const isNotFound = (err: unknown): boolean => isKubeApiError(err) && err.status === 404;
export const isConflict = (err: unknown): boolean => isKubeApiError(err) && err.status === 409;
/** The watch's resourceVersion is too old to resume from: list again. */
export const isGone = (err: unknown): boolean => isKubeApiError(err) && err.status === 410;

const contentTypes: Record<PatchType | 'apply', string> = {
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

interface RequestInit {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export class HttpKubeClient implements KubeClient {
  readonly #config: KubeConfig;
  readonly #server: string;
  /**
   * One connection pool for the client's life. client-node builds a new dispatcher on every
   * applySecurityAuthentication(); using each once meant a new TCP+TLS connection per request,
   * left open until the server dropped it: slow under load and hundreds of MB of native memory.
   */
  #dispatcher: ReturnType<RequestContext['getDispatcher']>;

  constructor(config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.#config = config;
    this.#server = cluster.server.replace(/\/$/, '');
  }

  /** Loads the kubeconfig the way kubectl does: `--kubeconfig` path, $KUBECONFIG, in-cluster, ~/.kube/config. */
  static fromKubeconfig(path?: string): HttpKubeClient {
    const config = new KubeConfig();
    if (path !== undefined && path !== '') config.loadFromFile(path);
    else config.loadFromDefault();
    return new HttpKubeClient(config);
  }

  async get<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
  ): Promise<T | undefined> {
    try {
      return await this.#json<T>(resourcePath(kind, { namespace, name }), { method: 'GET' });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    kind: ResourceKind,
    options: ListOptions = {},
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.#json<{
        items?: T[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>(resourcePath(kind, { namespace: options.namespace }), {
        method: 'GET',
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: options.limit ?? 500,
          continue: continueToken,
        },
      });
      // The API omits apiVersion/kind on list items; put them back so callers can apply them.
      for (const item of page.items ?? [])
        items.push({ apiVersion: kind.apiVersion, kind: kind.kind, ...item });
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  apply<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T> {
    return this.#apply(obj, options, undefined);
  }

  applyStatus<T extends KubeObject>(obj: T, options: ApplyOptions): Promise<T> {
    return this.#apply(obj, options, 'status');
  }

  patch<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType,
    subresource?: string,
  ): Promise<T> {
    return this.#json<T>(resourcePath(kind, { namespace, name, subresource }), {
      method: 'PATCH',
      body: patch,
      contentType: contentTypes[type],
    });
  }

  create<T extends KubeObject>(kind: ResourceKind, obj: T, subresource?: string): Promise<T> {
    const meta = obj.metadata ?? {};
    const path =
      subresource === undefined
        ? resourcePath(kind, { namespace: meta.namespace })
        : resourcePath(kind, { namespace: meta.namespace, name: meta.name, subresource });
    return this.#json<T>(path, { method: 'POST', body: obj, contentType: 'application/json' });
  }

  async delete(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    gracePeriodSeconds?: number,
  ): Promise<boolean> {
    try {
      await this.#json(resourcePath(kind, { namespace, name }), {
        method: 'DELETE',
        query: { gracePeriodSeconds, propagationPolicy: 'Background' },
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async watch<T extends KubeObject>(
    kind: ResourceKind,
    options: WatchOptions,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await this.#send(resourcePath(kind, { namespace: options.namespace }), {
      method: 'GET',
      signal,
      query: {
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: options.resourceVersion,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        timeoutSeconds: options.timeoutSeconds,
      },
    });
    if (response.body === null) return;
    const lines = createInterface({ input: Readable.fromWeb(response.body), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (line === '') continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') throw statusError(410, event.object);
        onEvent(event);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }

  #apply<T extends KubeObject>(
    obj: T,
    options: ApplyOptions,
    subresource: string | undefined,
  ): Promise<T> {
    const kind = kindFromObject(obj);
    const meta = obj.metadata ?? {};
    if (meta.name === undefined)
      throw new Error(`cannot apply a ${kind.kind} without metadata.name`);
    return this.#json<T>(
      resourcePath(kind, { namespace: meta.namespace, name: meta.name, subresource }),
      {
        method: 'PATCH',
        body: obj,
        contentType: contentTypes.apply,
        query: {
          fieldManager: options.fieldManager,
          force: options.force ?? true,
          dryRun: options.dryRun === true ? 'All' : undefined,
        },
      },
    );
  }

  async #json<T>(path: string, init: RequestInit): Promise<T> {
    const response = await this.#send(path, init);
    return (await response.json()) as T;
  }

  async #send(path: string, init: RequestInit) {
    const url = new URL(this.#server + path);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const ctx = new RequestContext(url.toString(), init.method);
    // Headers are taken per request (a token file may rotate); the dispatcher only once.
    await this.#config.applySecurityAuthentication(ctx);
    this.#dispatcher ??= ctx.getDispatcher();
    const headers: Record<string, string> = { ...ctx.getHeaders(), accept: 'application/json' };
    if (init.contentType !== undefined) headers['content-type'] = init.contentType;
    const response = await fetch(url, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      dispatcher: this.#dispatcher,
      signal: init.signal ?? null,
    });
    if (response.ok) return response;
    const text = await response.text();
    let status: unknown = text;
    try {
      status = JSON.parse(text);
    } catch {
      // not a Status object; keep the text
    }
    throw statusError(response.status, status);
  }
}

function statusError(fallbackCode: number, status: unknown): KubeApiError {
  if (typeof status === 'object' && status !== null) {
    const s = status as { code?: number; reason?: string; message?: string };
    return new KubeApiError(s.code ?? fallbackCode, s.reason, s.message ?? JSON.stringify(status));
  }
  return new KubeApiError(fallbackCode, undefined, String(status));
}

function kindFromObject(obj: KubeObject): ResourceKind {
  if (obj.apiVersion === undefined || obj.kind === undefined) {
    throw new Error('cannot apply an object without apiVersion and kind');
  }
  const plural = knownPlurals.get(`${obj.apiVersion}/${obj.kind}`);
  if (plural === undefined) throw new Error(`no REST mapping for ${obj.apiVersion} ${obj.kind}`);
  return plural;
}

const knownPlurals = new Map<string, ResourceKind>(
  Object.values(Kinds).map((k) => [`${k.apiVersion}/${k.kind}`, k]),
);

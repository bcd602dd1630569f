/**
 * `KubeClient` over the Kubernetes REST API with node's own HTTP client, one keep-alive
 * connection pool and the credentials of a kubeconfig (`./kubeconfig.ts`). Content types are
 * explicit: server-side apply for everything Breakwater owns, JSON merge patch only where a
 * patch is meant (the runtime's own pod annotations), never strategic merge.
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { Kubeconfig, type ConnectionSource } from './kubeconfig.ts';
import {
  isNotFound,
  KubeApiError,
  type ApplyOptions,
  type KubeClient,
  type ListOptions,
  type ListResult,
  type PatchType,
  type WatchEvent,
  type WatchOptions,
} from './kubeClient.ts';
import { RotatingTlsAgent } from './kubeTransport.ts';
import { Kinds, resourcePath, type ResourceKind } from './resourceKinds.ts';
import type { KubeObject } from './kubeObject.ts';

/** node:http from its CommonJS exports: an ESM import loads Node's internal undici. */
const http = process.getBuiltinModule('node:http');

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
  readonly signal?: AbortSignal | undefined;
  /** Give up on an answer that has not begun after this long; none for watches. */
  readonly timeoutMs?: number;
}

/** A call the API server has not begun to answer after this long has failed. */
const REQUEST_TIMEOUT_MS = 60_000;

export class HttpKubeClient implements KubeClient {
  readonly #source: ConnectionSource;
  readonly #server: URL;
  /**
   * One connection pool for the client's life. Each new connection takes the source's TLS
   * material as it is then (rotated files included); a source that cannot rotate gives the
   * material of the first request. Headers (a token may rotate) are taken per request.
   */
  #agent: HttpAgent | undefined;
  /** Aborted by close(): every request in flight ends, and later ones are refused. */
  readonly #closed = new AbortController();

  constructor(source: ConnectionSource) {
    const cluster = source.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.#source = source;
    this.#server = new URL(cluster.server.replace(/\/$/, ''));
  }

  /** Loads the kubeconfig the way kubectl does: `--kubeconfig` path, $KUBECONFIG, ~/.kube/config, in-cluster. */
  static fromKubeconfig(path?: string): HttpKubeClient {
    return new HttpKubeClient(Kubeconfig.load(path));
  }

  /**
   * Aborts every request in flight (calls reject, watches end) and refuses new ones. For a
   * process that is shutting down: an API server that stopped answering must not hold it for
   * the minute each call may wait.
   */
  close(): void {
    this.#closed.abort(new Error('the Kubernetes client was closed'));
    this.#agent?.destroy();
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
        signal: options.signal,
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
    try {
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
      response.setEncoding('utf8');
      const lines = createInterface({ input: response, crlfDelay: Infinity });
      // Whatever ends the response (abort, a cut connection) ends the loop below.
      response.once('close', () => {
        lines.close();
      });
      for await (const line of lines) {
        if (line === '') continue;
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') throw statusError(410, event.object);
        onEvent(event);
      }
      // A connection cut mid-stream ends the lines as if the server had ended the watch.
      if (!response.complete && !signal.aborted) throw new Error('watch connection lost');
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

  /**
   * A GET of any API path, answered as text: a pod's own answer through the API server's
   * pod proxy (`/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/<path>`), which is not JSON
   * of the API's making. A non-2xx answer rejects with KubeApiError, its body in the message.
   */
  async getText(path: string, signal?: AbortSignal): Promise<string> {
    const response = await this.#send(path, {
      method: 'GET',
      timeoutMs: REQUEST_TIMEOUT_MS,
      signal,
    });
    return readText(response);
  }

  async #json<T>(path: string, init: RequestInit): Promise<T> {
    const response = await this.#send(path, { timeoutMs: REQUEST_TIMEOUT_MS, ...init });
    return JSON.parse(await readText(response)) as T;
  }

  /** Sends the request; resolves with a 2xx response whose body is still to be read. */
  async #send(path: string, init: RequestInit): Promise<IncomingMessage> {
    const url = new URL(this.#server.pathname.replace(/\/$/, '') + path, this.#server);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const secure = url.protocol === 'https:';
    const options: RequestOptions = { headers: {} };
    await this.#source.applyToHTTPSOptions(options);
    const closed = this.#closed.signal;
    const signal = init.signal === undefined ? closed : AbortSignal.any([init.signal, closed]);
    signal.throwIfAborted();
    this.#agent ??= !secure
      ? new http.Agent({ keepAlive: true })
      : this.#source.tlsForConnection === undefined
        ? new HttpsAgent({
            keepAlive: true,
            ca: options.ca,
            cert: options.cert,
            key: options.key,
            servername: options.servername,
            ...(options.rejectUnauthorized === undefined
              ? {}
              : { rejectUnauthorized: options.rejectUnauthorized }),
          })
        : new RotatingTlsAgent(this.#source.tlsForConnection.bind(this.#source));
    const headers: Record<string, string> = {
      ...(options.headers as Record<string, string>),
      accept: 'application/json',
    };
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);
    if (init.contentType !== undefined) headers['content-type'] = init.contentType;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (secure ? httpsRequest : http.request)(url, {
        method: init.method,
        headers,
        agent: this.#agent,
        ...(options.auth === undefined ? {} : { auth: options.auth }),
        signal,
      });
      req.once('response', resolve);
      req.once('error', reject);
      if (init.timeoutMs !== undefined) {
        req.setTimeout(init.timeoutMs, () => {
          req.destroy(
            new Error(`${init.method} ${path}: no answer in ${String(init.timeoutMs)} ms`),
          );
        });
      }
      req.end(body);
    });
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const text = await readText(response);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not a Status object; keep the text
    }
    throw statusError(status, parsed);
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  response.setEncoding('utf8');
  let text = '';
  for await (const chunk of response) text += chunk as string;
  return text;
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

/**
 * The one boundary between Breakwater and the Kubernetes API. Reconcilers and the runtime
 * talk to the `KubeClient` interface; `HttpKubeClient` (httpKubeClient.ts) implements it over
 * the REST API with node's own HTTP client on one keep-alive connection pool, and the
 * credentials of a kubeconfig (`./kubeconfig.ts`); `RotatingTlsAgent` (kubeTransport.ts) gives
 * each new connection the TLS material of the moment.
 */
import type { ResourceKind } from './resourceKinds.ts';
import type { KubeObject } from './kubeObject.ts';

export interface ListOptions {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit?: number | undefined;
  /** Abandons the list (whichever page is in flight) when aborted. */
  readonly signal?: AbortSignal | undefined;
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

export interface WatchOptions extends Omit<ListOptions, 'signal'> {
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

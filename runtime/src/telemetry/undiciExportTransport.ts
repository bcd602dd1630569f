/**
 * OTLP/HTTP export over undici, the client the runtime's provider calls already use, in place
 * of the SDK's transport over `node:http`.
 *
 * Why: node's stream and socket code is shared by every socket in the process. The SDK's
 * transport sent its requests through `node:http`'s client, whose requests, responses and
 * sockets are objects of other shapes than the server's and undici's; once they passed
 * through, the property loads of that shared code (`Readable.push`, `Writable.uncork`,
 * `Socket._writeGeneric`, ...) went megamorphic for every call the runtime serves
 * (`node --log-ic`: bench/results/HISTORY.md, telemetry, 2026-11-29). undici's pool makes
 * the same objects the provider calls do. Status and retries as the SDK's transport: 2xx
 * success; 429, 502, 503, 504, a network error or a timeout tried again (`Retry-After`, else
 * backoff from 1 s by 1.5 up to 5 s with a fifth's jitter, at most 5 more times, within the
 * export's timeout); anything else a failure.
 */
import {
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  type IOtlpExportDelegate,
} from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExporterMetrics,
} from '@opentelemetry/otlp-exporter-base/node-http';
import type { IExporterMetricsHelper, ISerializer } from '@opentelemetry/otlp-transformer';
import { Pool, type Dispatcher } from 'undici';

const RETRYABLE = new Set([429, 502, 503, 504]);
/** The SDK's limit on an export's answer (it reads none of it but its status). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface UndiciExportOptions {
  /** The signal's full URL (`<endpoint>/v1/traces`). */
  readonly url: string;
  /** OTEL_EXPORTER_OTLP_HEADERS and the content type, as the SDK's options give them. */
  readonly headers: () => Promise<Record<string, string>> | Record<string, string>;
  readonly userAgent?: string | undefined;
}

/** `Retry-After` as milliseconds (seconds or a date), as the SDK reads it. */
function retryAfterMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Status, `Retry-After` and body of one export's answer, or what stopped it. */
type Answer =
  | { readonly status: number; readonly retryAfter: string | undefined; readonly body: Buffer }
  | { readonly error: Error };

/**
 * One POST through `pool.dispatch` with a handler of its own, as the provider calls are made
 * (provider/exchange.ts): no body stream, whose readable code the server's requests share.
 */
function post(
  pool: Pool,
  path: string,
  headers: Record<string, string>,
  data: Uint8Array,
  timeoutMillis: number,
): Promise<Answer> {
  return new Promise((resolve) => {
    let status = 0;
    let retryAfter: string | undefined;
    let size = 0;
    const chunks: Buffer[] = [];
    let controller: Dispatcher.DispatchController | undefined;
    pool.dispatch(
      {
        path,
        method: 'POST',
        headers,
        body: data,
        headersTimeout: timeoutMillis,
        bodyTimeout: timeoutMillis,
      },
      {
        onRequestStart(c) {
          controller = c;
        },
        onResponseStart(_c, statusCode, raw) {
          status = statusCode;
          const value = raw['retry-after'];
          retryAfter = Array.isArray(value) ? value[0] : value;
        },
        onResponseData(_c, chunk) {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            controller?.abort(new Error('OTLP export answer too large'));
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd() {
          resolve({ status, retryAfter, body: Buffer.concat(chunks) });
        },
        onResponseError(_c, err) {
          resolve({ error: err });
        },
      },
    );
  });
}

const RETRIES = 5;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;

export function undiciExportTransport(options: UndiciExportOptions): IExporterTransport {
  const url = new URL(options.url);
  const pool = new Pool(url.origin);
  const path = `${url.pathname}${url.search}`;
  const once = async (data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> => {
    const headers = { ...(await options.headers()) };
    headers['user-agent'] = options.userAgent ?? 'breakwater-runtime OTel-OTLP-Exporter';
    return responseOf(await post(pool, path, headers, data, timeoutMillis));
  };
  return {
    async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
      const deadline = Date.now() + timeoutMillis;
      let backoff = FIRST_BACKOFF_MS;
      let result = await once(data, timeoutMillis);
      for (let left = RETRIES; result.status === 'retryable' && left > 0; left--) {
        const jittered = Math.min(backoff * (1 + (Math.random() * 0.4 - 0.2)), MAX_BACKOFF_MS);
        backoff *= 1.5;
        const wait = result.retryInMillis ?? jittered;
        const remaining = deadline - Date.now();
        if (wait > remaining) return result;
        await new Promise((resolve) => setTimeout(resolve, wait));
        result = await once(data, deadline - Date.now());
      }
      return result;
    },
    shutdown(): void {
      void pool.close();
    },
  };
}

function responseOf(answer: Answer): ExportResponse {
  // Refused, reset or timed out: worth another try, as the SDK's transport says.
  if ('error' in answer) return { status: 'retryable', error: answer.error };
  if (answer.status <= 299) return { status: 'success', data: answer.body };
  if (RETRYABLE.has(answer.status)) {
    const retryInMillis = retryAfterMs(answer.retryAfter);
    return retryInMillis === undefined
      ? { status: 'retryable' }
      : { status: 'retryable', retryInMillis };
  }
  return {
    status: 'failure',
    error: new Error(`OTLP export answered ${String(answer.status)}: ${answer.body.toString()}`),
  };
}

/** The SDK's OTLP/HTTP delegate's options for `signal`, as its own exporters read them. */
function httpOptions(signal: 'TRACES' | 'METRICS', contentType: string) {
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  return convertLegacyHttpOptions({}, signal, signal === 'TRACES' ? 'v1/traces' : 'v1/metrics', {
    'Content-Type': contentType,
  });
}

/**
 * An OTLP/HTTP export delegate for `signal` over undiciExportTransport, else as the SDK's:
 * `serializer`'s bytes sent as `contentType` (application/json or application/x-protobuf).
 */
export function undiciExportDelegate<Internal, Response>(
  signal: 'TRACES' | 'METRICS',
  serializer: ISerializer<Internal, Response>,
  metrics: { readonly componentType: string; readonly helper: IExporterMetricsHelper<Internal> },
  contentType: 'application/json' | 'application/x-protobuf',
): IOtlpExportDelegate<Internal> {
  const options = httpOptions(signal, contentType);
  return createOtlpNetworkExportDelegate(
    options,
    serializer,
    createOtlpHttpExporterMetrics(metrics.componentType, metrics.helper, options.url, undefined),
    undiciExportTransport({
      url: options.url,
      headers: options.headers,
      userAgent: options.userAgent,
    }),
  );
}

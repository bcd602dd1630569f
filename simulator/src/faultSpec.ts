/**
 * A fault as posted to `POST /_sim/faults`:
 *
 * - `status` (400–599) answers with that status and the matching Anthropic error body;
 *   `errorType` overrides the body's type, and alone picks the status that type goes with
 *   (`overloaded_error` → 529). A 429 carries `retry-after: retryAfterSeconds` (default 1);
 *   other statuses carry it only when `retryAfterSeconds` is given.
 * - `hang: true` never answers; the request is held until the client gives up.
 * - `drop: true` destroys the connection without answering; `drop: "mid-response"` sends
 *   the status, headers and half of a plain body first (a stream: as `inStream:
 *   "after-content"`).
 * - `inStream` moves the error, hang or drop inside a stream: the stream answers 200 and
 *   sends its events up to that point (`"before-content"`: `message_start` and `ping`;
 *   `"after-content"`: about half the content deltas, at least one), then the error as an
 *   SSE `error` event and a clean end, a stall with the connection held open, or a cut
 *   connection. A plain request gets the plain error, hang or drop. `midStream: true` is
 *   `inStream: "after-content"` for an error.
 * - `latencyMs` delays the answer; alone, it slows requests that then succeed.
 * - `rate` (0–1, default 1) is the chance the fault applies to a request; `count` retires it
 *   after it has applied that many times (default: never).
 * - `model` limits the fault to requests for that model; requests for other models neither
 *   see it nor count toward its `count`.
 * - `provider` (`anthropic`, `bedrock`, `vertex`) limits it, the same way, to requests in that
 *   provider's wire format: Bedrock throttles while the Anthropic API answers.
 *
 * `status`, `hang` and `drop` are alternatives; at least one of them or `latencyMs` is needed.
 * Unknown fields and combinations are refused, naming the field, so that a typo does not
 * silently inject nothing.
 */
import { errorTypeForStatus, isKnownErrorType, statusForErrorType } from './anthropicError.ts';
import { isProvider, PROVIDERS, type Provider } from './provider.ts';

/** Where in a stream an `inStream` fault strikes. */
export type StreamPoint = 'before-content' | 'after-content';

const STREAM_POINTS: readonly StreamPoint[] = ['before-content', 'after-content'];

/** The JSON body of `POST /_sim/faults`. */
export interface FaultRequest {
  readonly status?: number;
  readonly errorType?: string;
  readonly retryAfterSeconds?: number;
  readonly inStream?: StreamPoint;
  /** `inStream: "after-content"`, kept for the faults posted before `inStream`. */
  readonly midStream?: boolean;
  readonly rate?: number;
  readonly count?: number;
  readonly latencyMs?: number;
  readonly hang?: boolean;
  readonly drop?: boolean | 'mid-response';
  readonly model?: string;
  readonly provider?: Provider;
}

export type FaultAction =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly errorType: string;
      readonly retryAfterSeconds: number | undefined;
      /** For streamed requests: send the stream up to here, then an SSE `error` event. */
      readonly inStream: StreamPoint | undefined;
    }
  | { readonly kind: 'hang'; readonly inStream: StreamPoint | undefined }
  | {
      readonly kind: 'drop';
      readonly inStream: StreamPoint | undefined;
      /** Where a plain (not streamed) request is cut. */
      readonly plain: 'before-response' | 'mid-response';
    };

/** A fault that decides how the request ends: an error, a hang or a drop. */
export type InjectedAction = Exclude<FaultAction, { readonly kind: 'none' }>;

/** A fault that strikes inside a stream, once the reply is planned. */
export type InStreamAction = InjectedAction & { readonly inStream: StreamPoint };

export function isInStream(action: FaultAction): action is InStreamAction {
  return action.kind !== 'none' && action.inStream !== undefined;
}

export interface FaultSpec {
  readonly action: FaultAction;
  readonly latencyMs: number;
  readonly rate: number;
  readonly count: number | undefined;
  /** Only requests for this model; absent: every request. */
  readonly model?: string;
  /** Only requests in this provider's wire format; absent: every provider. */
  readonly provider?: Provider;
}

export type FaultParseResult =
  | { readonly ok: true; readonly fault: FaultSpec }
  | { readonly ok: false; readonly field: string; readonly message: string };

const FIELDS = new Set<string>([
  'status',
  'errorType',
  'retryAfterSeconds',
  'inStream',
  'midStream',
  'rate',
  'count',
  'latencyMs',
  'hang',
  'drop',
  'model',
  'provider',
] satisfies (keyof FaultRequest)[]);

const ERROR_TYPE = /^[a-z][a-z_]*$/;

export function parseFaultSpec(body: unknown): FaultParseResult {
  const fail = (field: string, problem: string): FaultParseResult => ({
    ok: false,
    field,
    message: `${field}: ${problem}`,
  });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('body', 'a fault is a JSON object');
  }
  const fault = body as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(fault)) {
    if (!FIELDS.has(key)) return fail(key, `unknown field; known: ${[...FIELDS].join(', ')}`);
  }
  const {
    status,
    errorType,
    retryAfterSeconds,
    inStream,
    midStream,
    rate,
    count,
    latencyMs,
    hang,
    drop,
    model,
    provider,
  } = fault;

  if (status !== undefined && !(isInteger(status) && status >= 400 && status <= 599)) {
    return fail('status', 'an integer from 400 to 599');
  }
  if (errorType !== undefined && !(typeof errorType === 'string' && ERROR_TYPE.test(errorType))) {
    return fail('errorType', 'a snake_case error type such as overloaded_error');
  }
  if (
    retryAfterSeconds !== undefined &&
    !(isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)
  ) {
    return fail('retryAfterSeconds', 'a non-negative integer');
  }
  if (inStream !== undefined && !isStreamPoint(inStream)) {
    return fail('inStream', '"before-content" or "after-content"');
  }
  if (midStream !== undefined && typeof midStream !== 'boolean') {
    return fail('midStream', 'a boolean');
  }
  if (rate !== undefined && !(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
    return fail('rate', 'a number from 0 to 1');
  }
  if (count !== undefined && !(isInteger(count) && count >= 1)) {
    return fail('count', 'an integer of at least 1');
  }
  if (latencyMs !== undefined && !(isInteger(latencyMs) && latencyMs >= 0)) {
    return fail('latencyMs', 'a non-negative integer');
  }
  if (hang !== undefined && typeof hang !== 'boolean') return fail('hang', 'a boolean');
  if (model !== undefined && !(typeof model === 'string' && model !== '')) {
    return fail('model', 'a model name such as claude-sonnet-5-5');
  }
  if (provider !== undefined && !isProvider(provider)) {
    return fail('provider', `one of ${PROVIDERS.join(', ')}`);
  }
  if (drop !== undefined && typeof drop !== 'boolean' && drop !== 'mid-response') {
    return fail('drop', 'true, false or "mid-response"');
  }

  const errorAsked = status !== undefined || errorType !== undefined;
  const dropAsked = drop !== undefined && drop !== false;
  if ([errorAsked, hang === true, dropAsked].filter(Boolean).length > 1) {
    return fail('status', 'status/errorType, hang and drop are alternatives; give one');
  }

  if (midStream === true && inStream !== undefined) {
    return fail('midStream', 'the same as inStream: "after-content"; give inStream alone');
  }
  if (drop === 'mid-response' && inStream !== undefined) {
    return fail(
      'inStream',
      'goes with drop: true; drop: "mid-response" already cuts a stream after content',
    );
  }
  const point = inStream ?? (midStream === true ? 'after-content' : undefined);

  let action: FaultAction = { kind: 'none' };
  if (errorAsked) {
    let resolvedStatus = status;
    if (resolvedStatus === undefined) {
      if (typeof errorType !== 'string' || !isKnownErrorType(errorType)) {
        return fail('status', `required when errorType is not a known type`);
      }
      resolvedStatus = statusForErrorType(errorType);
    }
    action = {
      kind: 'error',
      status: resolvedStatus,
      errorType: typeof errorType === 'string' ? errorType : errorTypeForStatus(resolvedStatus),
      retryAfterSeconds: retryAfterSeconds ?? (resolvedStatus === 429 ? 1 : undefined),
      inStream: point,
    };
  } else if (hang === true) {
    action = { kind: 'hang', inStream: point };
  } else if (dropAsked) {
    action =
      drop === 'mid-response'
        ? { kind: 'drop', inStream: 'after-content', plain: 'mid-response' }
        : { kind: 'drop', inStream: point, plain: 'before-response' };
  }
  if (midStream === true && action.kind !== 'error') {
    return fail('midStream', 'goes with status or errorType; for a hang or drop, use inStream');
  }
  if (inStream !== undefined && action.kind === 'none') {
    return fail('inStream', 'goes with status/errorType, hang: true or drop: true');
  }
  if (action.kind === 'none' && !(typeof latencyMs === 'number' && latencyMs > 0)) {
    return fail('status', 'a fault needs status, errorType, hang, drop or latencyMs');
  }
  return {
    ok: true,
    fault: {
      action,
      latencyMs: latencyMs ?? 0,
      rate: rate ?? 1,
      count: count,
      ...(model === undefined ? {} : { model }),
      ...(provider === undefined ? {} : { provider }),
    },
  };
}

function isStreamPoint(value: unknown): value is StreamPoint {
  return STREAM_POINTS.some((point) => point === value);
}

function isInteger(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

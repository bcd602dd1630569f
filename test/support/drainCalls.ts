/**
 * One Messages call to a runtime that may be stopping, classified the way a rollout test
 * counts it:
 *
 * - served: a 200 with a message;
 * - refused: a 503 `overloaded_error`, or no connection at all: the port already closed
 *   (ECONNREFUSED), or the pod's address already gone with its network namespace (the connect
 *   times out or the host is unreachable) — the runtime never admitted the call;
 * - unanswered: the connection closed before any answer — after the drain the runtime admits
 *   nothing, so only then is it a refusal at the TCP level, not a loss;
 * - lost: anything else.
 */
export type DrainOutcome = 'served' | 'refused' | 'unanswered' | 'lost';

export interface DrainCall {
  /** When the call was sent (epoch ms). */
  readonly at: number;
  readonly outcome: DrainOutcome;
  readonly detail: string;
  /** A refusal's own words: the drain's "shutting down", or a breaker's. */
  readonly message?: string;
  /** How long the call took (ms). */
  readonly ms?: number;
}

/** Connection errors that mean no connection was made, so the call never reached the runtime. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH']);

export async function drainCall(baseUrl: string, model: string): Promise<DrainCall> {
  const at = Date.now();
  try {
    const response = await fetch(`${baseUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        max_tokens: 8,
        messages: [{ role: 'user', content: 'hello' }],
      }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await response.json()) as {
      type?: string;
      error?: { type?: string; message?: string };
    };
    if (response.status === 200 && body.type === 'message')
      return { at, outcome: 'served', detail: '200' };
    if (response.status === 503 && body.error?.type === 'overloaded_error')
      return {
        at,
        outcome: 'refused',
        detail: '503',
        message: body.error.message ?? '',
        ms: Date.now() - at,
      };
    return { at, outcome: 'lost', detail: `${String(response.status)} ${JSON.stringify(body)}` };
  } catch (err) {
    const code = ((err as Error).cause as { code?: string } | undefined)?.code ?? String(err);
    if (NOT_CONNECTED.has(code)) return { at, outcome: 'refused', detail: code };
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
      return { at, outcome: 'unanswered', detail: code };
    return { at, outcome: 'lost', detail: code };
  }
}

/** How many of `calls` ended as `outcome`. */
export const countOutcome = (calls: readonly DrainCall[], outcome: DrainOutcome): number =>
  calls.filter((c) => c.outcome === outcome).length;

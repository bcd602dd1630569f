/**
 * Runs one HTTP tool: POSTs the model's tool input as JSON to the tool's URL inside the
 * guard (tools bulkhead, the tool's own breaker and timeout) and turns the answer into a
 * `tool_result` block. A failed tool becomes an error result the model can read, not a
 * failed request.
 */
import {
  classifyHttpOutcome,
  failureOf,
  HttpStatusError,
} from '../provider/anthropic/errorClassification.ts';
import type { ToolSettings } from '../../../contract/src/policy/policyDocument.ts';
import type { RuntimeGuard } from '../provider/backendPool.ts';
import type { RuntimeMetrics } from '../telemetry/runtimeMetrics.ts';
import type { CallStats } from '../stats/callStats.ts';
import type { Clock } from '../../../platform/src/time/clock.ts';

/** A tool's answer is cut to this many characters before it goes back to the model. */
const MAX_RESULT_CHARS = 100_000;

export interface ToolResultBlock {
  readonly type: 'tool_result';
  readonly tool_use_id: string;
  readonly content: string;
  readonly is_error?: boolean;
}

export interface ToolRunnerDeps {
  readonly guard: RuntimeGuard;
  readonly metrics: RuntimeMetrics;
  readonly stats: CallStats;
  readonly clock: Clock;
}

export async function runTool(
  deps: ToolRunnerDeps,
  tool: ToolSettings | undefined,
  call: { id: string; name: string; input: unknown },
  how: {
    readonly signal: AbortSignal;
    /** Told the guard's class of a call that could not be made (its span's `error.type`). */
    readonly failed: (errorType: string) => void;
  },
): Promise<ToolResultBlock> {
  const { signal } = how;
  if (tool === undefined) {
    how.failed('UnknownTool');
    deps.metrics.toolCalls.inc({ server: '', tool: 'unknown', status: 'error' });
    return {
      type: 'tool_result',
      tool_use_id: call.id,
      content: `unknown tool "${call.name}"`,
      is_error: true,
    };
  }
  const started = deps.clock.now();
  let status = 'success';
  try {
    const text = await deps.guard.callTool(
      tool.name,
      tool.timeoutMs,
      async (s) => {
        const response = await fetch(tool.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(call.input ?? {}),
          signal: s,
        });
        const body = await response.text();
        if (response.status >= 400) {
          const c = classifyHttpOutcome({ status: response.status, body }, deps.clock.now());
          // A tool's 4xx is the model's mistake: report it, do not count it against the tool.
          if (c.outcome === 'ClientError') return `error ${response.status}: ${body}`;
          throw new HttpStatusError(
            `tool "${tool.name}"`,
            { status: response.status, body, headers: response.headers },
            c,
          );
        }
        return body;
      },
      signal,
    );
    deps.stats.record('tool', tool.name, deps.clock.now() - started);
    return { type: 'tool_result', tool_use_id: call.id, content: text.slice(0, MAX_RESULT_CHARS) };
  } catch (err) {
    const outcome = failureOf(err, deps.clock.now()).outcome;
    status = outcome === 'Timeout' ? 'timeout' : outcome === 'Rejected' ? 'rejected' : 'error';
    how.failed(outcome);
    deps.stats.record('tool', tool.name, deps.clock.now() - started, { errorType: outcome });
    return {
      type: 'tool_result',
      tool_use_id: call.id,
      content: `tool "${tool.name}" failed: ${outcome}`,
      is_error: true,
    };
  } finally {
    deps.metrics.toolCalls.inc({ server: '', tool: tool.name, status });
    deps.metrics.toolLatency.observe(
      { server: '', tool: tool.name },
      (deps.clock.now() - started) / 1000,
    );
  }
}

/**
 * `/mcp/<name>` `tools/call` in a durable run. The step is claimed, and so journaled as
 * started, before the tool is called, and completed with the result before the result goes
 * back. On replay a completed step is answered from the journal without calling the tool; a
 * step that started and never completed has an unknown outcome: the tool is called again when
 * it says it is idempotent or read-only (MCP `idempotentHint`, `readOnlyHint`) or the server's
 * `onUnknownOutcome` is Retry, and otherwise (Fail) the caller gets an `is_error` result that
 * says so — calling a tool that files a ticket twice is worse than telling the model.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { CallerIdentity } from '../access/callerIdentity.ts';
import type { McpServerLink } from '../mcp/mcpServerLink.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { DurableRuns, NamedRun, RunAttempt, RunName } from './durableRuns.ts';

/**
 * A durable call the journal refused: another key's run (403), a superseded attempt (409), or
 * a claim no replica confirmed (503, `acknowledge: Replicas`).
 */
export interface RefusedRun {
  readonly refused: string;
  readonly status?: 403 | 409 | 503;
}

export class DurableTools {
  readonly #runs: DurableRuns;
  readonly #metrics: DurableMetrics;

  constructor(runs: DurableRuns, metrics: DurableMetrics) {
    this.#runs = runs;
    this.#metrics = metrics;
  }

  /** The run a call names, as `caller`'s (undefined: durability off). */
  runOf(name: RunName, caller: CallerIdentity): NamedRun | undefined {
    return this.#runs.runOf(name, caller);
  }

  /**
   * One tool call of `run`, through its journal; `live` makes the call, `replayed` is told
   * when the journal answered instead.
   */
  async call(
    run: RunAttempt,
    link: McpServerLink,
    tool: string,
    input: Record<string, unknown>,
    how: {
      readonly live: () => Promise<CallToolResult>;
      readonly signal: AbortSignal;
      readonly replayed: () => void;
    },
  ): Promise<CallToolResult | RefusedRun> {
    const request = toolRequest(link.settings.name, tool, input);
    return journaledToolCall(this.#runs, this.#metrics, run, request, {
      mayCallAgain: () => mayCallAgain(link, tool),
      live: how.live,
      unknown: () => unknownOutcome(link.settings.name, tool),
      signal: how.signal,
      replayed: how.replayed,
    });
  }
}

/** What a tool step is matched by: its server ('' for an HTTP tool), tool and arguments. */
export function toolRequest(server: string, tool: string, input: unknown): string {
  return canonicalJson({ server, tool, arguments: input });
}

/**
 * One tool call of a run through its journal — the one path both `/mcp/<name>` and the
 * bundled agent's loop take: replayed, made live and journaled, or, found started and never
 * completed, made again only when that is safe.
 */
export async function journaledToolCall(
  runs: DurableRuns,
  metrics: DurableMetrics,
  run: RunAttempt,
  request: string,
  call: {
    readonly mayCallAgain: () => boolean;
    readonly live: () => Promise<CallToolResult>;
    readonly unknown: () => CallToolResult;
    readonly signal: AbortSignal;
    /** Told when the result came from the journal. */
    readonly replayed?: () => void;
  },
): Promise<CallToolResult | RefusedRun> {
  // A tool that may be called again needs no started marker: lost, it is simply called again.
  const begun = await runs.begin(run, 'tool', request, call.mayCallAgain());
  switch (begun.action) {
    case 'refused':
      return { refused: begun.message, status: begun.status };
    case 'replay':
      if (begun.answer.kind !== 'tool') return call.live();
      call.replayed?.();
      return begun.answer.result;
    case 'live': {
      const result = await call.live();
      // The caller gone mid-call (its pod dying): the outcome stays unknown, not "cancelled".
      if (begun.step !== undefined && !call.signal.aborted)
        await runs.complete(begun.step, { kind: 'tool', result });
      return result;
    }
    case 'unknown': {
      const retry = call.mayCallAgain();
      metrics.unknownOutcomes.inc({ action: retry ? 'retried' : 'failed' });
      const result = retry ? await call.live() : call.unknown();
      await runs.complete(begun.step, { kind: 'tool', result });
      return result;
    }
  }
}

export function isRefused(answer: CallToolResult | RefusedRun): answer is RefusedRun {
  return 'refused' in answer;
}

/** Whether a call whose outcome is unknown may be made again. */
export function mayCallAgain(link: McpServerLink, tool: string): boolean {
  if (link.settings.onUnknownOutcome === 'Retry') return true;
  const annotations = link.state.tools.find((t) => t.name === tool)?.annotations;
  return annotations?.idempotentHint === true || annotations?.readOnlyHint === true;
}

export function unknownOutcome(server: string, tool: string): CallToolResult {
  return {
    content: [
      {
        type: 'text',
        text: `the outcome of ${server === '' ? tool : `${server}__${tool}`} is unknown: the journal holds the call as started and never answered (the run was interrupted mid-call, or the journal store could not record the answer), and the tool is not marked idempotent (onUnknownOutcome: Fail), so it was not called again. Check whether it took effect before calling it again.`,
      },
    ],
    isError: true,
  };
}

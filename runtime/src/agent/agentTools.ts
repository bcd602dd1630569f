/**
 * The tools of one agent invocation: the AgentDeployment's HTTP tools (toolRunner.ts) and its
 * MCP servers' allowed tools (mcpTools.ts), offered to the model together; each call checked
 * by the loop breaker first, and an MCP tool's result screened by the prompt-injection guard
 * like the caller's input (Flag: reported; Block: withheld from the model).
 */
import type { Context } from '@opentelemetry/api';
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { CIRCUIT_BREAKER_POLICY_LIMITS as BREAKER } from '../../../contract/src/api/specLimits.ts';
import { mayCallAgain } from '../durable/durableTools.ts';
import { LoopDetectedError } from '../guard/errors.ts';
import { TOOL_SEPARATOR, type McpTools, type ToolOutcome } from '../mcp/mcpTools.ts';
import { scanForInjection } from '../security/promptInjection.ts';
import { withToolSpan, type ToolSpan } from '../telemetry/agentSpans.ts';
import { toolErrorType } from '../telemetry/genAiAgentConventions.ts';
import { LoopDetector } from './loopDetector.ts';
import type { LoopLedger } from './loopLedger.ts';
import { runTool, type ToolResultBlock, type ToolRunnerDeps } from './toolRunner.ts';

/**
 * Where a durable run's tool calls go (durable/agentJournal.ts): answered from the run's
 * journal (and `replayed` told so), or made by `live` and journaled; `mayCallAgain` says
 * whether a call found started and never completed may be made again.
 */
export interface ToolJournal {
  toolCall(
    call: {
      readonly server: string;
      readonly tool: string;
      readonly input: unknown;
      readonly toolUseId: string;
    },
    how: {
      readonly mayCallAgain: () => boolean;
      readonly live: () => Promise<ToolResultBlock>;
      readonly signal: AbortSignal;
      readonly replayed: () => void;
    },
  ): Promise<ToolResultBlock>;
}

export interface AgentToolDeps extends ToolRunnerDeps {
  readonly mcp: McpTools;
  /** A durable run's journal; absent, tools are called live. */
  readonly journal?: ToolJournal;
  /** The run's `invoke_agent` span: each call's `execute_tool` span goes under it. */
  readonly trace: Context;
  readonly loops: LoopLedger;
  /** A finding in a tool's result: counted and audited by the caller's route. */
  readonly onInjection: (kind: string, tool: string, blocked: boolean) => void;
}

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}

/** What an invocation's tools read of the runtime, besides the policy's guard. */
export type InvocationNeeds = Pick<AgentToolDeps, 'metrics' | 'stats' | 'clock' | 'mcp' | 'loops'>;

/** One invocation of the bundled agent: where it came from, and what its tools report to. */
export interface Invocation {
  readonly guard: AgentToolDeps['guard'];
  /** The request the invocation answers (`run-<id>` for a run the runtime owns). */
  readonly requestId: string;
  readonly route: string;
  /** A durable run's journal; absent, tools are called live. */
  readonly journal?: ToolJournal | undefined;
  readonly trace: Context;
  readonly onInjection: AgentToolDeps['onInjection'];
}

/**
 * The tools of one invocation, `/v1/agent/invoke`'s or a run's the runtime owns: built in one
 * place, so that the two cannot come to offer or guard tools differently.
 */
export function invocationTools(
  doc: PolicyDocument,
  ctx: InvocationNeeds,
  invocation: Invocation,
): InvocationTools {
  const { guard, requestId, route, journal, trace, onInjection } = invocation;
  const { metrics, stats, clock, mcp, loops } = ctx;
  return new InvocationTools(
    doc,
    {
      guard,
      metrics,
      stats,
      clock,
      mcp,
      loops,
      trace,
      onInjection,
      ...(journal === undefined ? {} : { journal }),
    },
    { requestId, route },
  );
}

export class InvocationTools {
  readonly #doc: PolicyDocument;
  readonly #deps: AgentToolDeps;
  readonly #loops: LoopDetector;
  readonly #where: { requestId: string; route: string };

  constructor(
    doc: PolicyDocument,
    deps: AgentToolDeps,
    where: { requestId: string; route: string },
  ) {
    this.#doc = doc;
    this.#deps = deps;
    this.#where = where;
    this.#loops = new LoopDetector(loopLimits(doc));
  }

  /** What the model is offered. */
  definitions(): {
    name: string;
    description: string;
    input_schema: Readonly<Record<string, unknown>>;
  }[] {
    return [
      ...this.#doc.tools.map((t) => ({
        name: t.name,
        description: t.description,
        input_schema: t.inputSchema,
      })),
      ...this.#deps.mcp.modelTools(),
    ];
  }

  /** Runs one call; a loop in Enforce mode throws LoopDetectedError and ends the run. */
  async run(call: ToolCall, signal: AbortSignal): Promise<ToolResultBlock> {
    const finding = this.#loops.record(call.name, call.input);
    if (finding !== undefined) {
      const shadow = this.#doc.circuitBreaker.mode === 'Shadow';
      this.#deps.loops.found(finding, shadow, this.#where);
      if (!shadow) throw new LoopDetectedError(finding.tool, finding.count);
    }
    const mcp = this.#deps.mcp.resolve(call.name);
    const type = mcp === undefined ? 'function' : 'extension';
    return withToolSpan(this.#deps.trace, { name: call.name, id: call.id, type }, (span) => {
      const journal = this.#deps.journal;
      if (journal === undefined) return this.#live(call, mcp, signal, span);
      return journal.toolCall(
        {
          server: mcp?.link.settings.name ?? '',
          tool: mcp?.tool ?? call.name,
          input: call.input,
          toolUseId: call.id,
        },
        {
          // An HTTP tool says nothing of idempotence: its unknown outcome is never retried.
          mayCallAgain: () => mcp !== undefined && mayCallAgain(mcp.link, mcp.tool),
          live: () => this.#live(call, mcp, signal, span),
          signal,
          replayed: () => {
            span.replayed();
          },
        },
      );
    });
  }

  async #live(
    call: ToolCall,
    mcp: ReturnType<McpTools['resolve']>,
    signal: AbortSignal,
    span: ToolSpan,
  ): Promise<ToolResultBlock> {
    if (mcp === undefined)
      return runTool(
        this.#deps,
        this.#doc.tools.find((t) => t.name === call.name),
        call,
        {
          signal,
          failed: (errorType) => {
            span.failed(errorType);
          },
        },
      );
    const { clock } = this.#deps;
    const started = clock.now();
    const outcome = await this.#deps.mcp.call(
      this.#deps.guard,
      mcp.link,
      mcp.tool,
      call.input,
      signal,
    );
    const content = settleToolCall(this.#deps, this.#doc, {
      server: mcp.link.settings.name,
      tool: mcp.tool,
      outcome,
      tookMs: clock.now() - started,
    });
    const errorType = toolErrorType(outcome);
    if (errorType !== undefined) span.failed(errorType);
    return {
      type: 'tool_result',
      tool_use_id: call.id,
      content,
      ...(outcome.isError ? { is_error: true } : {}),
    };
  }
}

/** What settling a tool call needs. */
export type ToolBookkeeping = Pick<AgentToolDeps, 'metrics' | 'stats' | 'onInjection'>;

/**
 * The bookkeeping of one MCP tool call, the agent's or `/mcp/<name>`'s: metrics by server and
 * tool, the call statistics, and the result screened by the prompt-injection policy. Returns
 * the text the caller may see.
 */
export function settleToolCall(
  deps: ToolBookkeeping,
  doc: PolicyDocument,
  call: { server: string; tool: string; outcome: ToolOutcome; tookMs: number },
): string {
  const { server, outcome, tookMs } = call;
  // A name outside the allow-list is the caller's to choose: counted under one label, so that
  // made-up names cannot fill the metrics and /debug/stats with series of their own.
  const tool = outcome.failure === 'NotAllowed' ? NOT_ALLOWED : call.tool;
  const status =
    outcome.failure === 'Timeout'
      ? 'timeout'
      : outcome.failure === 'Rejected'
        ? 'rejected'
        : outcome.isError
          ? 'error'
          : 'success';
  deps.metrics.toolCalls.inc({ server, tool, status });
  deps.metrics.toolLatency.observe({ server, tool }, tookMs / 1000);
  const name = `${server}${TOOL_SEPARATOR}${tool}`;
  deps.stats.record(
    'tool',
    name,
    tookMs,
    outcome.failure === undefined ? {} : { errorType: outcome.failure },
  );
  return screened(deps, doc, name, outcome.text);
}

/** The tool label of every call to a tool outside the allow-list. */
export const NOT_ALLOWED = '_not_allowed';

/** A tool's result as the model may see it under the prompt-injection policy. */
function screened(deps: ToolBookkeeping, doc: PolicyDocument, tool: string, text: string): string {
  const mode = doc.security.promptInjection;
  if (mode === 'Off') return text;
  const finding = scanForInjection(text);
  if (finding === undefined) return text;
  const blocked = mode === 'Block';
  deps.onInjection(finding.kind, tool, blocked);
  return blocked
    ? `the result of ${tool} was withheld by the prompt-injection policy (${finding.kind})`
    : text;
}

/** The policy's loop limits, the schema's defaults where it sets none. */
export function loopLimits(doc: PolicyDocument): { maxRepeats: number; maxCycleRepeats: number } {
  return (
    doc.circuitBreaker.loopDetection ?? {
      maxRepeats: BREAKER['loopDetection.maxRepeats'].default,
      maxCycleRepeats: BREAKER['loopDetection.maxCycleRepeats'].default,
    }
  );
}

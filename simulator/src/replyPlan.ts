/**
 * The simulated model's answer to a request, fixed before any byte is sent so that the plain
 * and streamed forms carry the same content and usage. The text is deterministic:
 *
 * - a plain turn answers `You said: <text of the last user message>`;
 * - a tool call says `Calling <tool>.` and then carries the `tool_use` block;
 * - an answer to tool results says `<tool> returned: <result text>` per result
 *   (`<tool> failed: …` when `is_error`), one per line.
 *
 * Input is billed as the API bills it: the request's text at four characters a token, plus the
 * tool-use system prompt when it has tools; a web_search server tool searches `max_uses` times
 * (three without), each search billed in `usage.server_tool_use` and its results as input
 * tokens (`--search-result-tokens` each), which `message_start` does not count yet.
 *
 * `stop_sequences` cut the text at the earliest match; `max_tokens` cuts it at four
 * characters a token. Either drops a tool call that would follow, since a truncated call
 * is of no use to a client. With extended thinking the answer begins with a thinking block
 * (thinkingPlan.ts), whose full thinking is billed and counts toward `max_tokens`.
 */
import {
  TOOL_USE_SYSTEM_PROMPT_CURRENT,
  TOOL_USE_SYSTEM_PROMPT_TOKENS,
} from '../../contract/src/api/modelPrices.ts';
import type { NewId } from './ids.ts';
import type { CacheUsage } from './promptCache.ts';
import type { MessagesRequest, RequestMessage } from './messagesRequest.ts';
import { syntheticToolInput } from './syntheticToolInput.ts';
import { planThinking, type ThinkingBlock } from './thinkingPlan.ts';
import { estimateInputTokens, estimateTokens } from './tokenEstimate.ts';
import { decideTurn, type ToolResultSeen } from './toolUseDecision.ts';

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly input: Readonly<Record<string, unknown>>;
}

export type ReplyBlock =
  | { readonly type: 'text'; readonly text: string }
  | ({ readonly type: 'tool_use' } & ToolCall)
  | ThinkingBlock;

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface Reply {
  readonly id: string;
  readonly model: string;
  readonly content: readonly ReplyBlock[];
  readonly stopReason: StopReason;
  readonly stopSequence: string | null;
  /** Input tokens neither read from the prompt cache nor written to it. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** What the prompt cache served of the input; absent: nothing (promptCache.ts). */
  readonly cache?: CacheUsage;
  /** Web searches the provider ran for the answer, each billed a fee; absent: none. */
  readonly webSearches?: number;
  /**
   * Input tokens the searches' results added, beside `inputTokens`: billed once the answer
   * began (the searches ran), not counted in `message_start`. Absent: none.
   */
  readonly searchResultTokens?: number;
}

/** Input tokens one web search's results are billed at, unless `--search-result-tokens` says. */
export const SEARCH_RESULT_TOKENS = 2_000;

/** How many times the simulated model searches when its web_search tool sets no `max_uses`. */
export const SEARCHES_WITHOUT_LIMIT = 3;

/**
 * The input the API adds and bills when a request has tools: its tool-use system prompt, by
 * model and `tool_choice` (the table in contract/src/api/modelPrices.ts; a model it does not
 * list counts as the current models do).
 */
export function toolUseSystemPromptTokens(request: MessagesRequest): number {
  if (request.tools.length === 0 && request.serverTools.length === 0) return 0;
  const prompt = TOOL_USE_SYSTEM_PROMPT_TOKENS.get(request.model) ?? TOOL_USE_SYSTEM_PROMPT_CURRENT;
  const choice = request.toolChoice.type;
  return choice === 'any' || choice === 'tool' ? prompt.any : prompt.auto;
}

/** Web searches the model makes: each web_search tool as many times as it may, or three. */
function webSearches(request: MessagesRequest): number {
  let searches = 0;
  for (const tool of request.serverTools)
    if (tool.type.startsWith('web_search')) searches += tool.maxUses ?? SEARCHES_WITHOUT_LIMIT;
  return searches;
}

/** `reply` once the prompt cache has served part of its input. */
export function withCacheUsage(reply: Reply, cache: CacheUsage): Reply {
  const cached = cache.readTokens + cache.write5mTokens + cache.write1hTokens;
  if (cached === 0) return reply;
  return { ...reply, inputTokens: Math.max(0, reply.inputTokens - cached), cache };
}

export function planReply(
  request: MessagesRequest,
  newId: NewId,
  resultTokensPerSearch: number = SEARCH_RESULT_TOKENS,
): Reply {
  const decision = decideTurn(request);
  let text: string;
  let toolCall: ToolCall | undefined;
  switch (decision.kind) {
    case 'text':
      text = decision.prompt === '' ? 'Simulated reply.' : `You said: ${decision.prompt}`;
      break;
    case 'call_tool': {
      const { name, inputSchema } = decision.tool;
      text = `Calling ${name}.`;
      const input = syntheticToolInput(inputSchema);
      toolCall = {
        id: newId('toolu'),
        name,
        input: decision.plan === undefined ? input : stepInput(input, decision.plan),
      };
      break;
    }
    case 'answer_tool_results':
      text = decision.results.map((result) => describeResult(result, request.messages)).join('\n');
      break;
  }
  const searches = webSearches(request);
  const id = newId('msg');
  const thinking =
    request.thinking === undefined ? undefined : planThinking(request.thinking, text, id);
  const output = limitOutput(text, toolCall, request, thinking?.billedTokens ?? 0);
  return {
    id,
    model: request.model,
    inputTokens: estimateInputTokens(request) + toolUseSystemPromptTokens(request),
    ...output,
    ...(thinking === undefined
      ? {}
      : {
          content: [thinking, ...output.content],
          outputTokens: thinking.billedTokens + output.outputTokens,
        }),
    ...(searches === 0
      ? {}
      : { webSearches: searches, searchResultTokens: searches * resultTokensPerSearch }),
  };
}

/** A planned step's input: each string field says which step it is. */
function stepInput(
  input: Record<string, unknown>,
  plan: { readonly step: number; readonly of: number },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(input))
    out[field] =
      typeof value === 'string'
        ? `${value}, step ${String(plan.step)} of ${String(plan.of)}`
        : value;
  return out;
}

interface LimitedOutput {
  readonly content: ReplyBlock[];
  readonly stopReason: StopReason;
  readonly stopSequence: string | null;
  readonly outputTokens: number;
}

/** The answer after `thought` tokens of thinking, within what is left of `max_tokens`. */
function limitOutput(
  fullText: string,
  fullToolCall: ToolCall | undefined,
  request: MessagesRequest,
  thought: number,
): LimitedOutput {
  const maxTokens = request.maxTokens - thought;
  let text = fullText;
  let toolCall = fullToolCall;
  let stopReason: StopReason = toolCall === undefined ? 'end_turn' : 'tool_use';
  let stopSequence: string | null = null;

  const stop = earliestStop(text, request.stopSequences);
  if (stop !== undefined) {
    text = text.slice(0, stop.at);
    stopSequence = stop.sequence;
    stopReason = 'stop_sequence';
    toolCall = undefined;
  }

  let tokens = estimateTokens(text);
  if (tokens > maxTokens) {
    text = sliceWholeChars(text, maxTokens * 4);
    tokens = maxTokens;
    stopReason = 'max_tokens';
    toolCall = undefined;
  }

  if (toolCall !== undefined) {
    const callTokens = estimateTokens(toolCall.name + JSON.stringify(toolCall.input));
    if (tokens + callTokens > maxTokens) {
      stopReason = 'max_tokens';
      toolCall = undefined;
    } else {
      tokens += callTokens;
    }
  }

  const content: ReplyBlock[] = text === '' ? [] : [{ type: 'text', text }];
  if (toolCall !== undefined) content.push({ type: 'tool_use', ...toolCall });
  return { content, stopReason, stopSequence, outputTokens: Math.max(1, tokens) };
}

function describeResult(result: ToolResultSeen, messages: readonly RequestMessage[]): string {
  const tool = toolNameOf(result.toolUseId, messages) ?? result.toolUseId;
  return `${tool} ${result.isError ? 'failed' : 'returned'}: ${result.text}`;
}

/** The name of the tool the assistant called with `toolUseId`, searching from the end. */
function toolNameOf(toolUseId: string, messages: readonly RequestMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    for (const part of messages[i]?.content ?? []) {
      if (part.kind === 'tool_use' && part.id === toolUseId) return part.name;
    }
  }
  return undefined;
}

function earliestStop(
  text: string,
  sequences: readonly string[],
): { at: number; sequence: string } | undefined {
  let earliest: { at: number; sequence: string } | undefined;
  for (const sequence of sequences) {
    const at = text.indexOf(sequence);
    if (at >= 0 && (earliest === undefined || at < earliest.at)) earliest = { at, sequence };
  }
  return earliest;
}

/** `text.slice(0, end)` without splitting a surrogate pair. */
function sliceWholeChars(text: string, end: number): string {
  const last = text.charCodeAt(end - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

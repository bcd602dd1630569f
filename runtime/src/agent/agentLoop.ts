/**
 * The agent: the system prompt, the caller's history and input, and the Claude tool-use loop
 * over the AgentDeployment's HTTP and MCP tools (agentTools.ts), for at most MAX_ITERATIONS
 * model calls; the loop breaker may end it sooner.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import type { ModelRouter, RouteOptions } from '../provider/modelRouter.ts';
import type { RoutedResponse } from '../provider/providerAttempt.ts';
import { loadAnthropicSdk } from '../provider/anthropic/anthropicSdk.ts';
import type { Usage } from '../provider/usage.ts';
import type { InvocationTools } from './agentTools.ts';
import type { ToolResultBlock } from './toolRunner.ts';
import { TurnCollector, type TurnBlock } from './turnCollector.ts';

export const MAX_ITERATIONS = 8;
/** The stop reason of a run the loop cut after MAX_ITERATIONS turns. */
export const MAX_TURNS = 'max_turns';

export interface AgentResult {
  readonly output: string;
  readonly model: string;
  readonly usage: Usage;
  /** The prompt cache's reads and writes over every turn (the answer's `usage` leaves them out). */
  readonly cache: { readonly read: number; readonly creation: number };
  readonly fallbackUsed: boolean;
  /** The fallback model that served the last turn a fallback served; absent when none did. */
  readonly fallbackModel?: string;
  /** Some turn was served by a cheaper model because a budget (`onExhausted: Fallback`) said so. */
  readonly budgetFallback: boolean;
  readonly iterations: number;
  /**
   * Why the run ended: the last turn's `stop_reason`, or `max_turns` when the model still asked
   * for tools after MAX_ITERATIONS turns and the loop stopped it (its output is unfinished).
   */
  readonly stopReason: string;
  /** The tools the run called, by name, in the order it called them. */
  readonly toolCalls: readonly string[];
}

interface ModelMessage {
  readonly content?: TurnBlock[];
  readonly stop_reason?: string | undefined;
}

/** What a streaming invocation hears as the loop goes: text as it comes, tool calls and results. */
export interface AgentStreamListener {
  text(delta: string): void;
  toolCall(call: { readonly id: string; readonly name: string; readonly input: unknown }): void;
  toolResult(result: ToolResultBlock): void;
  /**
   * A turn's content begins; `budgetFallback` says a budget sent it to a cheaper model. Told
   * before the turn's first text, so the caller's response head can still say so.
   */
  turnBegins?(budgetFallback: boolean): void;
}

/** A model turn's plain answer. */
export type PlainTurn = Extract<RoutedResponse, { kind: 'plain' }>;

/**
 * Where a durable run's model turns go (durable/agentJournal.ts): answered from the run's
 * journal, or made live by `live` and journaled before the loop goes on.
 */
export interface AgentJournal {
  modelTurn(
    body: Readonly<Record<string, unknown>>,
    live: () => Promise<PlainTurn>,
  ): Promise<PlainTurn>;
}

export class AgentUpstreamError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    super(`provider answered ${status}: ${body.slice(0, 500)}`);
    this.name = 'AgentUpstreamError';
    this.status = status;
  }
}

export async function runAgent(
  doc: PolicyDocument,
  router: ModelRouter,
  tools: InvocationTools,
  request: {
    input: string;
    history: readonly unknown[];
    headers: Record<string, string>;
    /** The caller's `sessionId`: the conversation's prompt-cache affinity is keyed on it. */
    session?: string;
    /** Wraps each provider attempt (for tracing). */
    wrapAttempt?: RouteOptions['wrapAttempt'];
    /** What the policy's budgets need of a turn, given its body's JSON; absent: no budgets. */
    budgetOf?: (text: string) => RouteOptions['budget'];
    /**
     * Streams every model turn and tells the listener as it goes; absent, turns are plain
     * calls. Each turn keeps the stream rules: retried or replaced unseen until its content
     * begins, final after.
     */
    listener?: AgentStreamListener;
    /** A durable run's journal: its turns are plain calls, each journaled (no listener). */
    journal?: AgentJournal;
  },
  signal: AbortSignal,
): Promise<AgentResult> {
  const messages: unknown[] = [...request.history, { role: 'user', content: request.input }];
  const usage: Usage = { input_tokens: 0, output_tokens: 0 };
  const cache = { read: 0, creation: 0 };
  const toolDefs = tools.definitions();
  let fallbackUsed = false;
  let fallbackModel: string | undefined;
  let budgetFallback = false;
  let model = doc.model.name;
  const toolCalls: string[] = [];
  for (let iteration = 1; iteration <= MAX_ITERATIONS; iteration++) {
    const body: Record<string, unknown> = {
      model: doc.model.name,
      max_tokens: doc.model.maxTokens,
      messages,
      ...(doc.systemPrompt === undefined ? {} : { system: doc.systemPrompt }),
      ...(doc.model.temperature === undefined ? {} : { temperature: doc.model.temperature }),
      ...(toolDefs.length === 0 ? {} : { tools: toolDefs }),
    };
    const chain = [doc.model.name, ...doc.model.fallbacks.filter((m) => m !== doc.model.name)];
    // Each turn's body is larger than the last: its worst case is priced turn by turn.
    const budget = request.budgetOf?.(JSON.stringify(body));
    const common = {
      body,
      models: chain,
      signal,
      headers: request.headers,
      ...(request.session === undefined ? {} : { session: request.session }),
      ...(request.wrapAttempt === undefined ? {} : { wrapAttempt: request.wrapAttempt }),
      ...(budget === undefined ? {} : { budget }),
    };
    const listener = request.listener;
    let message: ModelMessage;
    let routed;
    if (listener === undefined) {
      const send = async (): Promise<PlainTurn> => {
        // Its client loads with the first such turn, before the guard times an attempt.
        await loadAnthropicSdk();
        const sent = await router.send({ ...common, via: 'sdk', stream: false });
        if (sent.kind !== 'plain') throw new Error('unreachable: a plain request streamed');
        return sent;
      };
      const plain =
        request.journal === undefined ? await send() : await request.journal.modelTurn(body, send);
      if (plain.status !== 200) throw new AgentUpstreamError(plain.status, plain.text);
      message = JSON.parse(plain.text) as ModelMessage;
      routed = plain;
    } else {
      if (request.journal !== undefined) throw new Error('a journaled run streams no turns');
      // Forwarded, not through the SDK: the stream then has the pass-through's idle timeout.
      const turn = new TurnCollector(
        (delta) => {
          listener.text(delta);
        },
        (fallback) => listener.turnBegins?.(fallback),
      );
      routed = await router.send({ ...common, via: 'forward', stream: true, sink: turn });
      message = turn.message();
    }
    model = routed.model;
    fallbackUsed ||= routed.fallbackUsed;
    if (routed.fallbackUsed) fallbackModel = routed.model;
    budgetFallback ||= routed.budgetFallback === true;
    usage.input_tokens += routed.usage.input_tokens;
    usage.output_tokens += routed.usage.output_tokens;
    cache.read += routed.usage.cache_read_input_tokens ?? 0;
    cache.creation += routed.usage.cache_creation_input_tokens ?? 0;
    const content = message.content ?? [];
    const toolUses = content.filter((b) => b.type === 'tool_use');
    if (
      message.stop_reason !== 'tool_use' ||
      toolUses.length === 0 ||
      iteration === MAX_ITERATIONS
    ) {
      const output = content
        .filter((b) => b.type === 'text')
        .map((b) => b.text ?? '')
        .join('');
      const cut = message.stop_reason === 'tool_use' && toolUses.length > 0;
      const stopReason = cut ? MAX_TURNS : (message.stop_reason ?? 'end_turn');
      return {
        output,
        model,
        usage,
        cache,
        fallbackUsed,
        ...(fallbackModel === undefined ? {} : { fallbackModel }),
        budgetFallback,
        iterations: iteration,
        stopReason,
        toolCalls,
      };
    }
    messages.push({ role: 'assistant', content });
    for (const use of toolUses) toolCalls.push(use.name ?? '');
    const results = await Promise.all(
      toolUses.map(async (use) => {
        const call = { id: use.id ?? '', name: use.name ?? '', input: use.input };
        listener?.toolCall(call);
        const result = await tools.run(call, signal);
        listener?.toolResult(result);
        return result;
      }),
    );
    messages.push({ role: 'user', content: results });
  }
  throw new Error('unreachable: the loop returns on its last iteration');
}

/**
 * The bundled agent's run through its journal: each model turn and each tool call of the
 * loop (agent/agentLoop.ts, agent/agentTools.ts) claims its step in the same journal, by the
 * same rules, as a team's own agent's calls through `/v1/messages` and `/mcp/<name>`
 * (durableRuns.ts, durableTools.ts). A resumed run replays its completed steps — no provider
 * call, no tool called again — and goes live where its journal ends.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson } from '../../../contract/src/policy/policyDocument.ts';
import type { AgentJournal, PlainTurn } from '../agent/agentLoop.ts';
import type { ToolJournal } from '../agent/agentTools.ts';
import type { ToolResultBlock } from '../agent/toolRunner.ts';
import type { ActivePolicy } from '../policy/activePolicy.ts';
import { countSaved } from './modelSteps.ts';
import type { DurableMetrics } from './durableMetrics.ts';
import type { DurableRuns, RunAttempt } from './durableRuns.ts';
import { isRefused, journaledToolCall, toolRequest, unknownOutcome } from './durableTools.ts';
import { RunRefusedError } from './runRefusedError.ts';

export interface AgentJournalDeps {
  readonly durable: DurableRuns;
  readonly durableMetrics: DurableMetrics;
  readonly active: Pick<ActivePolicy, 'doc'>;
}

export class RunJournalOfAgent implements AgentJournal, ToolJournal {
  readonly #deps: AgentJournalDeps;
  readonly #run: RunAttempt;
  readonly #onReplayedTurn: () => void;

  /**
   * `onReplayedTurn` is told of each model turn answered from the journal (the run's trace
   * marks it); a tool call's own `replayed` is told of its.
   */
  constructor(deps: AgentJournalDeps, run: RunAttempt, onReplayedTurn: () => void = noop) {
    this.#deps = deps;
    this.#run = run;
    this.#onReplayedTurn = onReplayedTurn;
  }

  async modelTurn(
    body: Readonly<Record<string, unknown>>,
    live: () => Promise<PlainTurn>,
  ): Promise<PlainTurn> {
    const { durable } = this.#deps;
    const begun = await durable.begin(this.#run, 'model', canonicalJson(body));
    switch (begun.action) {
      case 'refused':
        throw new RunRefusedError(begun.message, begun.status === 409);
      case 'replay': {
        const answer = begun.answer;
        if (answer.kind !== 'model' || answer.stream) return live();
        countSaved(this.#deps, this.#deps.active, answer);
        this.#onReplayedTurn();
        return {
          kind: 'plain',
          model: answer.model,
          backend: answer.backend,
          status: answer.status,
          text: answer.body,
          usage: answer.usage,
          fallbackUsed: answer.model !== body.model,
        };
      }
      case 'unknown':
      case 'live': {
        const step = begun.step;
        let turn: PlainTurn;
        try {
          turn = await live();
        } catch (err) {
          if (step !== undefined) await durable.abandon(step);
          throw err;
        }
        if (step === undefined) return turn;
        if (turn.status < 200 || turn.status > 299) await durable.abandon(step);
        else
          await durable.complete(step, {
            kind: 'model',
            status: turn.status,
            stream: false,
            body: turn.text,
            model: turn.model,
            backend: turn.backend,
            usage: turn.usage,
          });
        return turn;
      }
    }
  }

  async toolCall(
    call: Parameters<ToolJournal['toolCall']>[0],
    how: Parameters<ToolJournal['toolCall']>[1],
  ): Promise<ToolResultBlock> {
    const answer = await journaledToolCall(
      this.#deps.durable,
      this.#deps.durableMetrics,
      this.#run,
      toolRequest(call.server, call.tool, call.input),
      {
        mayCallAgain: how.mayCallAgain,
        live: async () => asResult(await how.live()),
        unknown: () => unknownOutcome(call.server, call.tool),
        signal: how.signal,
        replayed: how.replayed,
      },
    );
    if (isRefused(answer)) throw new RunRefusedError(answer.refused, answer.status === 409);
    return asBlock(answer, call.toolUseId);
  }
}

const noop = (): void => undefined;

/** The loop's tool result as the journal keeps one (an MCP result). */
function asResult(block: ToolResultBlock): CallToolResult {
  return {
    content: [{ type: 'text', text: block.content }],
    ...(block.is_error === true ? { isError: true } : {}),
  };
}

function asBlock(result: CallToolResult, toolUseId: string): ToolResultBlock {
  const text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
  return {
    type: 'tool_result',
    tool_use_id: toolUseId,
    content: text,
    ...(result.isError === true ? { is_error: true } : {}),
  };
}

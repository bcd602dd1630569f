/**
 * What the simulated model does with a turn. The rule, in order:
 *
 * 1. The last message is from the user and carries `tool_result` blocks → answer in text
 *    that quotes each result (the end of an agent's tool loop).
 * 2. Client tools are given and `tool_choice` is not `none`:
 *    - `tool_choice: {type: "tool", name}` → call that tool;
 *    - the last user message's text names a tool as a whole word (`use tool get_weather`,
 *      `what does get_weather say?`) → call the tool named earliest in the text;
 *    - `tool_choice: {type: "any"}` → call the first tool.
 * 3. Otherwise → answer in text.
 *
 * Before all of these, a model stuck in a loop: when the last user text that has any asks
 * for a tool `over and over`, that tool is called again whatever came back — the agent loop
 * the runtime's loop breaker exists for. And a plan of several steps: when it asks to `use
 * tool <name> <N> times`, the model calls that tool once a turn, step k of N in its input,
 * until the conversation holds N calls of it, then answers the last results — a multi-step
 * agent run, each step's input its own.
 */
import type { MessagesRequest, RequestMessage, ToolDefinition } from './messagesRequest.ts';

export interface ToolResultSeen {
  readonly toolUseId: string;
  readonly text: string;
  readonly isError: boolean;
}

export type TurnDecision =
  | { readonly kind: 'text'; readonly prompt: string }
  | {
      readonly kind: 'call_tool';
      readonly tool: ToolDefinition;
      /** A planned step (`use tool <name> <N> times`): this is step `step` of `of`. */
      readonly plan?: { readonly step: number; readonly of: number };
    }
  | { readonly kind: 'answer_tool_results'; readonly results: readonly ToolResultSeen[] };

/** What makes the simulated model call the named tool again and again. */
const STUCK = /\bover and over\b/i;
/** A plan of steps: `use tool <name> <N> times`. */
const PLAN = /\buse tool ([A-Za-z0-9_-]+) (\d{1,2}) times\b/i;

export function decideTurn(request: MessagesRequest): TurnDecision {
  const asked = lastUserPrompt(request.messages);
  if (STUCK.test(asked)) {
    const tool = chooseTool(request, asked);
    if (tool !== undefined) return { kind: 'call_tool', tool };
  }
  const planned = plannedStep(request, asked);
  if (planned !== undefined) return planned;
  const last = request.messages.at(-1);
  if (last?.role === 'user') {
    const results: ToolResultSeen[] = [];
    for (const part of last.content) {
      if (part.kind === 'tool_result') results.push(part);
    }
    if (results.length > 0) return { kind: 'answer_tool_results', results };
  }
  const prompt = lastUserText(request.messages);
  const tool = chooseTool(request, prompt);
  return tool === undefined ? { kind: 'text', prompt } : { kind: 'call_tool', tool };
}

/** The next step of a plan the prompt sets out, while steps remain. */
function plannedStep(request: MessagesRequest, asked: string): TurnDecision | undefined {
  const match = PLAN.exec(asked);
  if (match === null || request.toolChoice.type === 'none') return undefined;
  const [, name, count] = match;
  const tool = request.tools.find((t) => t.name === name);
  if (tool === undefined) return undefined;
  const of = Number(count);
  let done = 0;
  for (const message of request.messages) {
    if (message.role !== 'assistant') continue;
    for (const part of message.content) if (part.kind === 'tool_use' && part.name === name) done++;
  }
  return done < of ? { kind: 'call_tool', tool, plan: { step: done + 1, of } } : undefined;
}

function chooseTool(request: MessagesRequest, prompt: string): ToolDefinition | undefined {
  const { tools, toolChoice } = request;
  if (tools.length === 0 || toolChoice.type === 'none') return undefined;
  if (toolChoice.type === 'tool') return tools.find((tool) => tool.name === toolChoice.name);
  let earliest: { tool: ToolDefinition; at: number } | undefined;
  for (const tool of tools) {
    const at = wholeWordIndex(prompt, tool.name);
    if (at >= 0 && (earliest === undefined || at < earliest.at)) earliest = { tool, at };
  }
  if (earliest !== undefined) return earliest.tool;
  return toolChoice.type === 'any' ? tools[0] : undefined;
}

/** The text blocks of the last user message, joined by newlines. */
export function lastUserText(messages: readonly RequestMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== 'user') continue;
    const texts: string[] = [];
    for (const part of message.content) if (part.kind === 'text') texts.push(part.text);
    return texts.join('\n');
  }
  return '';
}

/** The text of the last user message that has any (tool results carry none). */
function lastUserPrompt(messages: readonly RequestMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role !== 'user') continue;
    const texts: string[] = [];
    for (const part of message.content) if (part.kind === 'text') texts.push(part.text);
    if (texts.length > 0) return texts.join('\n');
  }
  return '';
}

const isNameChar = (c: string): boolean => /[A-Za-z0-9_-]/.test(c);

/** Where `word` first occurs in `text` not inside a longer tool-name-like word, or -1. */
export function wholeWordIndex(text: string, word: string): number {
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    const before = text.charAt(at - 1);
    const after = text.charAt(at + word.length);
    if ((before === '' || !isNameChar(before)) && (after === '' || !isNameChar(after))) return at;
  }
  return -1;
}

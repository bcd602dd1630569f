/**
 * What the provider adds to a Messages request beyond its bytes and bills, read from the
 * request (callCost.ts `ProviderAdditions`): the tool-use system prompt when it has tools,
 * image blocks (their tokens are not bounded by their bytes), fee-billed server tools and their
 * `max_uses`, and what cannot be bounded at all. Pure.
 */
import { CLIENT_TOOL_INPUT_TOKENS } from '../api/modelPrices.ts';
import type { ProviderAdditions } from './callCost.ts';
import { serverToolFeePico } from './callCost.ts';

/**
 * Why a typed tool's cost has no bound, or undefined when it has one: `web_search` with
 * `max_uses`, and the Anthropic-defined client tools whose added tokens are documented
 * (CLIENT_TOOL_INPUT_TOKENS). Other client tools (a version without a documented figure, the
 * memory tool) and tools the provider runs and bills by the token in ways a request does not
 * bound (web fetch, code execution) have none the runtime can read.
 */
function typedToolUnbounded(type: string, tool: Record<string, unknown>): string | undefined {
  if (CLIENT_TOOL_INPUT_TOKENS.has(type)) return undefined;
  const kind = type.replace(/_\d{8}$/, '');
  if (kind === 'web_search') {
    return typeof tool['max_uses'] === 'number'
      ? undefined
      : `server tool web_search has no max_uses: set max_uses to bound its fees`;
  }
  return `tool type ${type} adds what the provider bills by its own measure: the runtime cannot bound it; leave it out, or use a Shadow budget`;
}

/** Bytes do not bound a PDF's tokens: each page is read as text and as an image. */
function documentUnbounded(block: Record<string, unknown>): string | undefined {
  const source = block['source'];
  const type = isObject(source) ? source['type'] : undefined;
  if (type === 'text' || type === 'content') return undefined;
  return `a document by ${typeof type === 'string' ? type : 'an unknown source'} (a PDF) has no bound on its tokens: send its text as a text document, or use a Shadow budget`;
}

/** The additions of `body`, a parsed Messages request; undefined when it has none. */
export function requestAdditions(body: unknown): ProviderAdditions | undefined {
  if (!isObject(body)) return undefined;
  let toolChoice: 'auto' | 'any' | undefined;
  const serverToolUses: Record<string, number> = {};
  let unbounded: string | undefined;
  let clientToolTokens = 0;
  const clientToolTypes = new Set<string>();
  const tools = body['tools'];
  if (Array.isArray(tools) && tools.length > 0) {
    const choice = body['tool_choice'];
    const choiceType = isObject(choice) ? choice['type'] : undefined;
    toolChoice = choiceType === 'any' || choiceType === 'tool' ? 'any' : 'auto';
    for (const tool of tools as unknown[]) {
      if (!isObject(tool)) continue;
      const type = tool['type'];
      if (typeof type !== 'string' || type === 'custom') continue;
      const why = typedToolUnbounded(type, tool);
      unbounded ??= why;
      const client = CLIENT_TOOL_INPUT_TOKENS.get(type);
      if (client !== undefined) {
        clientToolTokens += client.definition;
        // Its own system prompt comes once, however many tools of the type there are.
        if (!clientToolTypes.has(type)) clientToolTokens += client.systemPrompt;
        clientToolTypes.add(type);
      }
      const maxUses = tool['max_uses'];
      const kind = type.replace(/_\d{8}$/, '');
      if (why === undefined && typeof maxUses === 'number' && serverToolFeePico(kind) !== undefined)
        serverToolUses[kind] = (serverToolUses[kind] ?? 0) + Math.max(0, Math.ceil(maxUses));
    }
  }
  let images = 0;
  const visit = (block: unknown): void => {
    if (!isObject(block)) return;
    if (block['type'] === 'image') images++;
    else if (block['type'] === 'document') unbounded ??= documentUnbounded(block);
    const content = block['content'];
    if (Array.isArray(content)) for (const inner of content as unknown[]) visit(inner);
  };
  const messages = body['messages'];
  if (Array.isArray(messages)) for (const message of messages as unknown[]) visit(message);
  const system = body['system'];
  if (Array.isArray(system)) for (const block of system as unknown[]) visit(block);
  if (toolChoice === undefined && images === 0 && unbounded === undefined) return undefined;
  return {
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(images === 0 ? {} : { images }),
    ...(clientToolTokens === 0 ? {} : { clientToolTokens }),
    ...(Object.keys(serverToolUses).length === 0 ? {} : { serverToolUses }),
    ...(unbounded === undefined ? {} : { unbounded }),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

import type { ContentPart, MessagesRequest } from './messagesRequest.ts';

/** Roughly four characters to a token, as for English text on Claude's tokenizer. */
export const CHARS_PER_TOKEN = 4;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/**
 * Input tokens of a request: the system prompt, every message's text, tool calls and
 * results, and the tool definitions, at four characters a token (at least one).
 */
export function estimateInputTokens(request: MessagesRequest): number {
  let chars = request.system.length;
  for (const message of request.messages) {
    for (const part of message.content) chars += partChars(part);
  }
  for (const tool of request.tools) {
    chars += tool.name.length + tool.description.length + JSON.stringify(tool.inputSchema).length;
  }
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

function partChars(part: ContentPart): number {
  switch (part.kind) {
    case 'text':
      return part.text.length;
    case 'tool_use':
      return part.name.length + JSON.stringify(part.input).length;
    case 'tool_result':
      return part.text.length;
    case 'other':
      return 0;
  }
}

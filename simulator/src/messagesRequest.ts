/**
 * Validation of a Messages API request body into the few things the simulator acts on.
 * Errors name the field the way the real API does (`messages.0.content: …`). Fields the
 * simulator does not interpret (temperature, metadata, …) pass through unchecked unless their
 * type is plainly wrong, so newer SDKs keep working; `thinking` is read (thinkingRequest.ts).
 */

import { promptSegments, type PromptSegment } from './promptSegments.ts';
import { readThinking, type ThinkingRequest } from './thinkingRequest.ts';

export type Role = 'user' | 'assistant';

/** A content block reduced to what the simulator reads. */
export type ContentPart =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'tool_use';
      readonly id: string;
      readonly name: string;
      readonly input: unknown;
    }
  | {
      readonly kind: 'tool_result';
      readonly toolUseId: string;
      readonly text: string;
      readonly isError: boolean;
    }
  /** Images, documents, thinking and other blocks: accepted, not interpreted. */
  | { readonly kind: 'other'; readonly type: string };

export interface RequestMessage {
  readonly role: Role;
  readonly content: readonly ContentPart[];
}

export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  /** The JSON Schema of the tool's input, as sent. */
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

/** A tool with a `type` other than `custom`: `web_search_20250305` and the like. */
export interface ServerTool {
  readonly type: string;
  readonly name: string;
  /** How many times the provider may use it in one call; absent: no limit. */
  readonly maxUses?: number;
}

export type ToolChoice =
  | { readonly type: 'auto' }
  | { readonly type: 'any' }
  | { readonly type: 'none' }
  | { readonly type: 'tool'; readonly name: string };

export interface MessagesRequest {
  /** The prompt as its cache sees it: blocks, prefix hashes, `cache_control` breakpoints. */
  readonly segments: readonly PromptSegment[];
  readonly model: string;
  readonly maxTokens: number;
  readonly messages: readonly RequestMessage[];
  readonly system: string;
  readonly stream: boolean;
  /** Client tools only; server tools (`web_search_…` and the like) are in `serverTools`. */
  readonly tools: readonly ToolDefinition[];
  /** Tools with a `type` of their own (server tools, Anthropic-defined ones), as sent. */
  readonly serverTools: readonly ServerTool[];
  readonly toolChoice: ToolChoice;
  readonly stopSequences: readonly string[];
  /** Extended thinking, when the request enables it. */
  readonly thinking?: ThinkingRequest;
}

export type ParseResult =
  | { readonly ok: true; readonly request: MessagesRequest }
  | { readonly ok: false; readonly field: string; readonly message: string };

export interface ParseOptions {
  /** `count_tokens` takes the same body without `max_tokens`. */
  readonly requireMaxTokens: boolean;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

class InvalidField extends Error {
  readonly field: string;
  /** `message`: the whole message, when the API's does not begin with the field. */
  constructor(field: string, problem: string, message = `${field}: ${problem}`) {
    super(message);
    this.field = field;
  }
}

type Json = Readonly<Record<string, unknown>>;

export function parseMessagesRequest(
  body: unknown,
  options: ParseOptions = { requireMaxTokens: true },
): ParseResult {
  try {
    return { ok: true, request: readRequest(body, options) };
  } catch (error) {
    if (error instanceof InvalidField) {
      return { ok: false, field: error.field, message: error.message };
    }
    throw error;
  }
}

function readRequest(body: unknown, options: ParseOptions): MessagesRequest {
  if (!isObject(body)) throw new InvalidField('body', 'Input should be a JSON object');
  const model = body['model'];
  if (model === undefined) throw new InvalidField('model', 'Field required');
  if (typeof model !== 'string' || model === '') {
    throw new InvalidField('model', 'Input should be a non-empty string');
  }
  const tools = readTools(body['tools']);
  const maxTokens = readMaxTokens(body['max_tokens'], options.requireMaxTokens);
  const messages = readMessages(body['messages']);
  const system = readSystem(body['system']);
  const thinking = readThinking(body['thinking'], maxTokens);
  if (!thinking.ok) throw new InvalidField(thinking.field, '', thinking.message);
  // After the messages and system are known to be well formed: the prefix hash serializes
  // each block, and a block that is not one (an array nested thousands deep) must be refused
  // as the API refuses it, not overflow the stack.
  const segments = segmentsOf(body);
  if (!segments.ok)
    throw new InvalidField(segments.field, segments.message.slice(segments.field.length + 2));
  const request: MessagesRequest = {
    segments: segments.segments,
    model,
    maxTokens,
    messages,
    system,
    stream: readOptionalBoolean(body['stream'], 'stream') ?? false,
    tools,
    serverTools: readServerTools(body['tools']),
    toolChoice: readToolChoice(body['tool_choice'], tools),
    stopSequences: readStopSequences(body['stop_sequences']),
    ...(thinking.thinking === undefined ? {} : { thinking: thinking.thinking }),
  };
  checkOptionalNumber(body['temperature'], 'temperature', 0, 1);
  checkOptionalNumber(body['top_p'], 'top_p', 0, 1);
  if (body['top_k'] !== undefined && !isNonNegativeInteger(body['top_k'])) {
    throw new InvalidField('top_k', 'Input should be a non-negative integer');
  }
  if (body['metadata'] !== undefined && !isObject(body['metadata'])) {
    throw new InvalidField('metadata', 'Input should be an object');
  }
  return request;
}

/** The prompt's cache segments; a tool input or schema nested too deep to hash is refused. */
function segmentsOf(body: Json): ReturnType<typeof promptSegments> {
  try {
    return promptSegments(body);
  } catch (error) {
    if (error instanceof RangeError)
      throw new InvalidField('body', 'JSON nested too deeply to be read');
    throw error;
  }
}

function readMaxTokens(value: unknown, required: boolean): number {
  if (value === undefined) {
    if (required) throw new InvalidField('max_tokens', 'Field required');
    return Number.MAX_SAFE_INTEGER;
  }
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidField('max_tokens', 'Input should be an integer greater than or equal to 1');
  }
  return value as number;
}

function readMessages(value: unknown): RequestMessage[] {
  if (value === undefined) throw new InvalidField('messages', 'Field required');
  if (!Array.isArray(value)) throw new InvalidField('messages', 'Input should be a valid list');
  if (value.length === 0) throw new InvalidField('messages', 'At least one message is required');
  return value.map((message: unknown, i) => readMessage(message, `messages.${i}`));
}

function readMessage(value: unknown, path: string): RequestMessage {
  if (!isObject(value)) throw new InvalidField(path, 'Input should be an object');
  const role = value['role'];
  if (role === undefined) throw new InvalidField(`${path}.role`, 'Field required');
  if (role !== 'user' && role !== 'assistant') {
    throw new InvalidField(`${path}.role`, "Input should be 'user' or 'assistant'");
  }
  return { role, content: readContent(value['content'], `${path}.content`) };
}

function readContent(value: unknown, path: string): ContentPart[] {
  if (value === undefined) throw new InvalidField(path, 'Field required');
  if (typeof value === 'string') return [{ kind: 'text', text: value }];
  if (!Array.isArray(value)) {
    throw new InvalidField(path, 'Input should be a string or a list of content blocks');
  }
  return value.map((block: unknown, i) => readBlock(block, `${path}.${i}`));
}

function readBlock(value: unknown, path: string): ContentPart {
  if (!isObject(value)) throw new InvalidField(path, 'Input should be an object');
  const type = value['type'];
  if (type === undefined) throw new InvalidField(`${path}.type`, 'Field required');
  if (typeof type !== 'string') throw new InvalidField(`${path}.type`, 'Input should be a string');
  switch (type) {
    case 'text':
      return { kind: 'text', text: requireString(value, 'text', path) };
    case 'tool_use': {
      const input = value['input'];
      if (!isObject(input)) throw new InvalidField(`${path}.input`, 'Input should be an object');
      return {
        kind: 'tool_use',
        id: requireString(value, 'id', path),
        name: requireString(value, 'name', path),
        input,
      };
    }
    case 'tool_result':
      return {
        kind: 'tool_result',
        toolUseId: requireString(value, 'tool_use_id', path),
        text: readToolResultText(value['content'], `${path}.content`),
        isError: readOptionalBoolean(value['is_error'], `${path}.is_error`) ?? false,
      };
    default:
      return { kind: 'other', type };
  }
}

/** The text of a tool result's content, which may be a string or a list of blocks. */
function readToolResultText(value: unknown, path: string): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    throw new InvalidField(path, 'Input should be a string or a list of content blocks');
  }
  const texts: string[] = [];
  value.forEach((block: unknown, i) => {
    const part = readBlock(block, `${path}.${i}`);
    if (part.kind === 'text') texts.push(part.text);
  });
  return texts.join('\n');
}

function readSystem(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    throw new InvalidField('system', 'Input should be a string or a list of text blocks');
  }
  return value
    .map((block: unknown, i) => {
      const part = readBlock(block, `system.${i}`);
      if (part.kind !== 'text')
        throw new InvalidField(`system.${i}.type`, "Input should be 'text'");
      return part.text;
    })
    .join('\n');
}

function readTools(value: unknown): ToolDefinition[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidField('tools', 'Input should be a valid list');
  const tools: ToolDefinition[] = [];
  const names = new Set<string>();
  value.forEach((tool: unknown, i) => {
    const path = `tools.${i}`;
    if (!isObject(tool)) throw new InvalidField(path, 'Input should be an object');
    const name = requireString(tool, 'name', path);
    if (!TOOL_NAME.test(name)) {
      throw new InvalidField(`${path}.name`, 'String should match pattern ^[a-zA-Z0-9_-]{1,128}$');
    }
    if (names.has(name)) throw new InvalidField(`${path}.name`, `Tool names must be unique`);
    names.add(name);
    const type = tool['type'];
    if (type !== undefined && type !== 'custom') return; // a server tool
    const inputSchema = tool['input_schema'];
    if (inputSchema === undefined) throw new InvalidField(`${path}.input_schema`, 'Field required');
    if (!isObject(inputSchema)) {
      throw new InvalidField(`${path}.input_schema`, 'Input should be an object');
    }
    const description = tool['description'];
    if (description !== undefined && typeof description !== 'string') {
      throw new InvalidField(`${path}.description`, 'Input should be a string');
    }
    tools.push({ name, description: description ?? '', inputSchema });
  });
  return tools;
}

/** The typed tools of a `tools` list readTools has accepted. */
function readServerTools(value: unknown): ServerTool[] {
  if (!Array.isArray(value)) return [];
  const tools: ServerTool[] = [];
  value.forEach((tool: unknown, i) => {
    if (!isObject(tool)) return;
    const type = tool['type'];
    if (typeof type !== 'string' || type === 'custom') return;
    const maxUses = tool['max_uses'];
    if (maxUses !== undefined && (!Number.isSafeInteger(maxUses) || (maxUses as number) < 1))
      throw new InvalidField(`tools.${i}.max_uses`, 'Input should be greater than 0');
    tools.push({
      type,
      name: tool['name'] as string,
      ...(maxUses === undefined ? {} : { maxUses: maxUses as number }),
    });
  });
  return tools;
}

function readToolChoice(value: unknown, tools: readonly ToolDefinition[]): ToolChoice {
  if (value === undefined) return { type: 'auto' };
  if (!isObject(value)) throw new InvalidField('tool_choice', 'Input should be an object');
  const type = value['type'];
  switch (type) {
    case 'auto':
    case 'any':
    case 'none':
      return { type };
    case 'tool': {
      const name = requireString(value, 'name', 'tool_choice');
      if (!tools.some((tool) => tool.name === name)) {
        throw new InvalidField('tool_choice.name', `No tool named '${name}' in tools`);
      }
      return { type, name };
    }
    default:
      throw new InvalidField('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
  }
}

function readStopSequences(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s !== '')) {
    throw new InvalidField('stop_sequences', 'Input should be a list of non-empty strings');
  }
  return value as string[];
}

function requireString(object: Json, key: string, path: string): string {
  const value = object[key];
  if (value === undefined) throw new InvalidField(`${path}.${key}`, 'Field required');
  if (typeof value !== 'string')
    throw new InvalidField(`${path}.${key}`, 'Input should be a string');
  return value;
}

function readOptionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new InvalidField(field, 'Input should be a valid boolean');
}

function checkOptionalNumber(value: unknown, field: string, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new InvalidField(field, `Input should be a number between ${min} and ${max}`);
  }
}

function isNonNegativeInteger(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A request's prompt as the API's prompt cache sees it: its blocks in the order it caches
 * them (tools, then system, then each message's content blocks), each with a hash of the
 * prefix that ends with it and the characters it adds, and which blocks are `cache_control`
 * breakpoints and for how long (`ttl` "5m", the default, or "1h"). As the API does, it refuses
 * more than four breakpoints, an unknown `ttl`, and a 1-hour breakpoint after a 5-minute one
 * (longer lifetimes must come first). `cache_control` is left out of the hash: the same
 * block with or without it is the same prefix.
 */
import { createHash } from 'node:crypto';

export const MAX_BREAKPOINTS = 4;

export type CacheTtl = '5m' | '1h';

export interface PromptSegment {
  /** Hash of the prefix ending with this block (hex). */
  readonly prefixHash: string;
  /** Characters of the prefix ending with this block, counted as tokenEstimate.ts does. */
  readonly prefixChars: number;
  /** Set when the block carries `cache_control`. */
  readonly breakpoint: CacheTtl | undefined;
}

export type SegmentsResult =
  | { readonly ok: true; readonly segments: readonly PromptSegment[] }
  | { readonly ok: false; readonly field: string; readonly message: string };

type Json = Readonly<Record<string, unknown>>;

interface Block {
  readonly path: string;
  readonly role: string;
  readonly value: unknown;
  readonly chars: number;
}

export function promptSegments(body: Json): SegmentsResult {
  const blocks = blocksOf(body);
  const segments: PromptSegment[] = [];
  let hash = '';
  let chars = 0;
  let count = 0;
  let sawFiveMinutes = false;
  for (const block of blocks) {
    const control = controlOf(block.value);
    let breakpoint: CacheTtl | undefined;
    if (control !== undefined) {
      const ttl = control['ttl'] ?? '5m';
      if (ttl !== '5m' && ttl !== '1h')
        return refuse(`${block.path}.cache_control.ttl`, "Input should be '5m' or '1h'");
      if (ttl === '1h' && sawFiveMinutes)
        return refuse(
          `${block.path}.cache_control.ttl`,
          'a ttl=1h cache_control breakpoint may not come after a ttl=5m one (tools, system, then messages)',
        );
      sawFiveMinutes ||= ttl === '5m';
      breakpoint = ttl;
      count++;
    }
    hash = createHash('sha256')
      .update(hash)
      .update(block.role)
      .update(withoutControl(block.value))
      .digest('hex');
    chars += block.chars;
    segments.push({ prefixHash: hash, prefixChars: chars, breakpoint });
  }
  if (count > MAX_BREAKPOINTS)
    return refuse(
      'cache_control',
      `A maximum of ${String(MAX_BREAKPOINTS)} blocks with cache_control may be provided. Found ${String(count)}.`,
    );
  return { ok: true, segments };
}

function refuse(field: string, problem: string): SegmentsResult {
  return { ok: false, field, message: `${field}: ${problem}` };
}

function blocksOf(body: Json): Block[] {
  const blocks: Block[] = [];
  const tools = body['tools'];
  if (Array.isArray(tools))
    tools.forEach((tool: unknown, i) => {
      blocks.push({ path: `tools.${String(i)}`, role: 't', value: tool, chars: toolChars(tool) });
    });
  const system = body['system'];
  if (typeof system === 'string')
    blocks.push({ path: 'system', role: 's', value: system, chars: system.length });
  else if (Array.isArray(system))
    system.forEach((b: unknown, i) => {
      blocks.push({ path: `system.${String(i)}`, role: 's', value: b, chars: blockChars(b) });
    });
  const messages = body['messages'];
  if (!Array.isArray(messages)) return blocks;
  messages.forEach((message: unknown, m) => {
    if (!isObject(message)) return;
    const role = typeof message['role'] === 'string' ? message['role'] : '?';
    const content = message['content'];
    const path = `messages.${String(m)}.content`;
    if (typeof content === 'string')
      blocks.push({ path, role, value: content, chars: content.length });
    else if (Array.isArray(content))
      content.forEach((b: unknown, i) => {
        blocks.push({ path: `${path}.${String(i)}`, role, value: b, chars: blockChars(b) });
      });
  });
  return blocks;
}

/** As tokenEstimate.ts counts them: text, a tool call's name and input, a result's text. */
function blockChars(block: unknown): number {
  if (typeof block === 'string') return block.length;
  if (!isObject(block)) return 0;
  switch (block['type']) {
    case 'text':
      return typeof block['text'] === 'string' ? block['text'].length : 0;
    case 'tool_use':
      return (
        (typeof block['name'] === 'string' ? block['name'].length : 0) +
        JSON.stringify(block['input'] ?? {}).length
      );
    case 'tool_result': {
      const content = block['content'];
      if (typeof content === 'string') return content.length;
      return Array.isArray(content)
        ? content.reduce((n: number, b: unknown) => n + blockChars(b), 0)
        : 0;
    }
    default:
      return 0;
  }
}

function toolChars(tool: unknown): number {
  if (!isObject(tool)) return 0;
  const name = typeof tool['name'] === 'string' ? tool['name'].length : 0;
  const description = typeof tool['description'] === 'string' ? tool['description'].length : 0;
  const schema = tool['input_schema'];
  return name + description + (schema === undefined ? 0 : JSON.stringify(schema).length);
}

function controlOf(block: unknown): Json | undefined {
  if (!isObject(block)) return undefined;
  const control = block['cache_control'];
  return isObject(control) ? control : undefined;
}

function withoutControl(block: unknown): string {
  if (typeof block === 'string') return block;
  if (block === undefined) return '';
  if (!isObject(block) || !('cache_control' in block)) return JSON.stringify(block);
  const { cache_control: _control, ...rest } = block;
  return JSON.stringify(rest);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Conversations that keep a prompt cache warm, driven through the real SDK: a system prompt
 * of about 1 500 tokens and a `cache_control` breakpoint on it and on the newest user message,
 * turn after turn, as agent loops send them. What each turn cost is read from the usage the
 * answer reports (cache reads, writes and the rest), priced from the contract's price table.
 * The cache-affinity test and bench share it.
 */
import type Anthropic from '@anthropic-ai/sdk';
import { callCost, priceBook } from '../../contract/src/spend/callCost.ts';
import { moneyToUsdNumber } from '../../contract/src/spend/money.ts';

/** A model the price table knows, and the simulator caches from 1 024 tokens. */
export const CACHE_MODEL = 'claude-sonnet-4-6';
export const CACHE_MODEL_BEDROCK = 'us.anthropic.claude-sonnet-4-6-v1:0';

const SYSTEM_TEXT =
  'You are the support agent of a harbour authority. Answer from the tide tables and berth rules below. '.repeat(
    60,
  );

export interface TurnRecord {
  readonly conversation: string;
  readonly turn: number;
  readonly backend: string;
  readonly usage: Anthropic.Usage;
}

type Block = Anthropic.TextBlockParam;
const ephemeral = { type: 'ephemeral' } as const;

/** One conversation's state: its history, without the breakpoints of earlier turns. */
export class Conversation {
  readonly id: string;
  readonly #system: Block[];
  readonly #history: Anthropic.MessageParam[] = [];
  #turn = 0;

  constructor(id: string, systemLabel: string) {
    this.id = id;
    this.#system = [
      { type: 'text', text: `${systemLabel}\n${SYSTEM_TEXT}`, cache_control: ephemeral },
    ];
  }

  /** The next turn, plain or streamed, with `headers` (a session); what it reported. */
  async next(
    client: Anthropic,
    options: { stream?: boolean; headers?: Record<string, string> } = {},
  ): Promise<TurnRecord> {
    this.#turn++;
    const text = `${this.id}, turn ${String(this.#turn)}: when is high water at berth ${String(this.#turn)}?`;
    const messages: Anthropic.MessageParam[] = [
      ...this.#history,
      { role: 'user', content: [{ type: 'text', text, cache_control: ephemeral }] },
    ];
    const params = { model: CACHE_MODEL, max_tokens: 64, system: this.#system, messages };
    const request = { headers: options.headers ?? {} };
    let message: Anthropic.Message;
    let backend: string | null;
    if (options.stream === true) {
      const stream = client.messages.stream(params, request);
      const { response } = await stream.withResponse();
      backend = response.headers.get('x-breakwater-backend');
      message = await stream.finalMessage();
    } else {
      const { data, response } = await client.messages.create(params, request).withResponse();
      backend = response.headers.get('x-breakwater-backend');
      message = data;
    }
    this.#history.push({ role: 'user', content: [{ type: 'text', text }] });
    const reply = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    this.#history.push({ role: 'assistant', content: reply });
    return {
      conversation: this.id,
      turn: this.#turn,
      backend: backend ?? '?',
      usage: message.usage,
    };
  }
}

/**
 * Every conversation's next turn at once, `turns` times, in an order shuffled per turn (as
 * callers arrive), every third turn streamed.
 */
export async function converse(
  client: Anthropic,
  conversations: readonly Conversation[],
  turns: number,
): Promise<TurnRecord[]> {
  const records: TurnRecord[] = [];
  for (let t = 1; t <= turns; t++) {
    const order = shuffled(conversations, t);
    records.push(...(await Promise.all(order.map((c) => c.next(client, { stream: t % 3 === 0 })))));
  }
  return records;
}

/** A fixed permutation for each `seed` (a small LCG): the same in every run. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = (seed * 2_654_435_761) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Cache reads over all cacheable input (reads and writes): 1 is every prefix read back. */
export function shareReadFromCache(records: readonly TurnRecord[]): number {
  let read = 0;
  let written = 0;
  for (const { usage } of records) {
    read += usage.cache_read_input_tokens ?? 0;
    written += usage.cache_creation_input_tokens ?? 0;
  }
  return read + written === 0 ? 0 : read / (read + written);
}

/** What the turns cost in dollars at the price table's list prices. */
export function costUsd(records: readonly TurnRecord[]): number {
  const book = priceBook();
  let pico = 0n;
  for (const { usage } of records) {
    const cost = callCost(CACHE_MODEL, usage, book);
    if (!cost.priced) throw new Error(cost.message);
    pico += cost.picoUsd;
  }
  return moneyToUsdNumber(pico);
}

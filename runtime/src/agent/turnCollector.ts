/**
 * One streamed model turn of the agent loop, read event by event: the text deltas go on to
 * the caller as they arrive, and the turn's message (text, tool calls with their inputs,
 * stop reason) is rebuilt for the loop to act on. It is the relay's sink for that turn, so
 * the turn keeps the relay's rules: nothing is committed before content begins, and the
 * outcome is decided at `message_stop`.
 */
import type { StreamSink } from '../provider/streamRelay.ts';

export interface TurnBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

export interface TurnMessage {
  readonly content: TurnBlock[];
  readonly stop_reason: string | undefined;
}

interface StreamEvent {
  type?: string;
  index?: number;
  content_block?: TurnBlock;
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string };
}

export class TurnCollector implements StreamSink {
  committed = false;
  servedBy: string | undefined = undefined;
  budgetFallback = false;
  errorEventSent = false;
  readonly #onText: (text: string) => void;
  readonly #onBegin: ((budgetFallback: boolean) => void) | undefined;
  readonly #blocks: TurnBlock[] = [];
  /** Per block index: the tool input's JSON as it arrives in pieces. */
  readonly #partialJson = new Map<number, string>();
  #stopReason: string | undefined;

  /** `onBegin` hears when content begins, and whether a budget sent the turn to a fallback. */
  constructor(onText: (text: string) => void, onBegin?: (budgetFallback: boolean) => void) {
    this.#onText = onText;
    this.#onBegin = onBegin;
  }

  begin(): void {
    // The caller's response is the route's to begin: the first text it is given does that.
    this.#onBegin?.(this.budgetFallback);
  }

  write(chunk: Buffer): boolean {
    // The relay writes whole events only.
    for (const event of chunk.toString('utf8').split('\n\n')) {
      const data = event.split('\n').find((line) => line.startsWith('data:'));
      if (data !== undefined) this.#event(JSON.parse(data.slice(5)) as StreamEvent);
    }
    return true;
  }

  onDrain(resume: () => void): void {
    resume();
  }

  /** The turn's message, once the relay has resolved. */
  message(): TurnMessage {
    return { content: this.#blocks, stop_reason: this.#stopReason };
  }

  #event(event: StreamEvent): void {
    const index = event.index ?? 0;
    switch (event.type) {
      case 'content_block_start':
        if (event.content_block !== undefined) this.#blocks[index] = { ...event.content_block };
        break;
      case 'content_block_delta': {
        const block = this.#blocks[index];
        const delta = event.delta;
        if (block === undefined || delta === undefined) break;
        if (delta.type === 'text_delta' && delta.text !== undefined) {
          block.text = (block.text ?? '') + delta.text;
          this.#onText(delta.text);
        } else if (delta.type === 'input_json_delta' && delta.partial_json !== undefined) {
          this.#partialJson.set(index, (this.#partialJson.get(index) ?? '') + delta.partial_json);
        }
        break;
      }
      case 'content_block_stop': {
        const json = this.#partialJson.get(index);
        const block = this.#blocks[index];
        if (json !== undefined && block !== undefined)
          block.input = json === '' ? {} : JSON.parse(json);
        break;
      }
      case 'message_delta':
        this.#stopReason = event.delta?.stop_reason ?? this.#stopReason;
        break;
      default:
        break;
    }
  }
}

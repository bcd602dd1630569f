/**
 * What a piece of synchronous work leaves on the heap once collected: for tests that a value
 * kept does not keep something larger alive with it. The flag set now, `gc` is on every
 * context made after it (V8 reads it when a context is made).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function heapGrowthOf(work: () => unknown): {
  readonly bytes: number;
  readonly kept: unknown;
} {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = work();
  gc();
  return { bytes: process.memoryUsage().heapUsed - before, kept };
}

/**
 * An answer's text as a provider's reply is decoded, `padding` characters of content long:
 * on the heap (Node makes a decoded string of over about 1 MB external, off the heap).
 */
export function answerText(id: string, model: string, padding: number): string {
  return Buffer.from(
    `{"id":"${id}","type":"message","model":"${model}","content":[{"type":"text","text":"${'x'.repeat(padding)}"}],"stop_reason":"max_tokens_reached"}`,
  ).toString('utf8');
}

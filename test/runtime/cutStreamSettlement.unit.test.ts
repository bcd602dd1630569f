/**
 * What the runtime settles for a stream cut before its final usage (sseUsage.ts
 * `settledUsage`) against what the simulator bills for it (billedUsage.ts `generatedUsage`),
 * at every byte the runtime may have read when the stream was cut: the simulator bills every
 * event whose first byte it wrote before it noticed the close, and it may write a few more
 * between the runtime's close and noticing it (docs/guarantees.md M3). Both sides' own code,
 * over the simulator's own encoding of its answers; no process, no clock.
 */
import { describe, expect, it } from '@jest/globals';
import { SseUsageTap, settledUsage } from '../../runtime/src/provider/sseUsage.ts';
import { generatedUsage } from '../../simulator/src/billedUsage.ts';
import type { IdPrefix } from '../../simulator/src/ids.ts';
import { parseMessagesRequest } from '../../simulator/src/messagesRequest.ts';
import { planReply, type Reply } from '../../simulator/src/replyPlan.ts';
import { encodeSseEvent, streamEventData } from '../../simulator/src/sseEncoding.ts';

const newId = (prefix: IdPrefix) => `${prefix}_cut`;

function reply(body: Record<string, unknown>): Reply {
  const parsed = parseMessagesRequest({ model: 'claude-sim', max_tokens: 512, ...body });
  if (!parsed.ok) throw new Error(parsed.message);
  return planReply(parsed.request, newId);
}

const PROMPT = 'Tell me about the sea, its tides and its weather. '.repeat(6);
const TOOL = {
  name: 'lookup_tide',
  input_schema: { type: 'object', properties: { harbour: { type: 'string' } } },
};

/**
 * Every way the stream of `answer` can be cut once `message_start` was read: the runtime read
 * its first `read` bytes, the simulator wrote `after` more events before it noticed. Answers
 * those where the runtime settles fewer output tokens than the simulator billed.
 */
function shortSettlements(answer: Reply, after: number): string[] {
  const events = streamEventData(answer);
  const encoded = events.map(({ event, data }) => Buffer.from(encodeSseEvent(event, data)));
  const bytes = Buffer.concat(encoded);
  const starts = encoded.map((_, i) => encoded.slice(0, i).reduce((n, e) => n + e.length, 0));
  const short: string[] = [];
  const tap = new SseUsageTap();
  for (let read = 1; read < bytes.length; read++) {
    tap.push(bytes.subarray(read - 1, read));
    if (!tap.started) continue;
    const begun = starts.filter((start) => start < read).length;
    const generated = Math.min(events.length, begun + after);
    const billed = generatedUsage(answer, events, generated).output_tokens;
    const settled = settledUsage(tap).output_tokens;
    if (settled < billed)
      short.push(
        `${String(read)} bytes read: settled ${String(settled)} < billed ${String(billed)}`,
      );
  }
  return short;
}

describe('a stream cut before its final usage, against what the simulator billed', () => {
  const text = reply({ messages: [{ role: 'user', content: PROMPT }] });
  const toolCall = reply({
    messages: [{ role: 'user', content: 'What does lookup_tide say for Brest?' }],
    tools: [TOOL],
  });

  it('has answers of many deltas, and one with a tool call', () => {
    expect(streamEventData(text).length).toBeGreaterThan(20);
    expect(toolCall.content.map((block) => block.type)).toContain('tool_use');
  });

  it.each([
    ['text', 0],
    ['text', 1],
    ['text', 3],
    ['a tool call', 0],
    ['a tool call', 1],
    ['a tool call', 3],
  ] as const)(
    'settles %s no less than billed at every byte read, the provider writing %i events after the close',
    (kind, after) => {
      expect(shortSettlements(kind === 'text' ? text : toolCall, after)).toEqual([]);
    },
  );
});

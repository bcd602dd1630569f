/**
 * The soak's closed loop (bench/memory/soak.ts): `concurrency` lanes, each sending its next
 * call when the last one is answered, until stopped. Call n (counted over every lane) is made
 * with client key n mod keys, in conversation n mod conversations (its system prompt carries
 * `cache_control`, so each conversation is a pin), so every key and every conversation recurs
 * once all have been seen. One lane in eight runs durable runs, each with a new id: in turn, a
 * run of the bundled agent (`/v1/agent/invoke` with an `Idempotency-Key`, `toolSteps` calls of
 * the MCP server's `echo`) and a run of the team's own agent (`RUN_STEPS` model calls naming
 * the run and its attempt). Of the other lanes, two in seven stream; one plain call in four
 * sets temperature 0 with a prompt of its own, so the response cache fills to its bound.
 */
import { randomUUID } from 'node:crypto';
import { PRIMARY_MODEL } from '../../test/support/standaloneRuntime.ts';

const RUN_STEPS = 3;

export interface SoakLoadOptions {
  readonly url: string;
  readonly keys: readonly string[];
  readonly conversations: number;
  readonly concurrency: number;
  readonly toolSteps: number;
}

export interface SoakCounts {
  /** HTTP calls answered, by kind. */
  plain: number;
  streamed: number;
  durable: number;
  /** Durable runs begun (each a new run id). */
  runs: number;
  /** Calls answered other than 200, by status (0: the connection failed). */
  readonly failures: Record<string, number>;
  /** The first few failures' bodies, to say what went wrong. */
  readonly failureSamples: string[];
}

export interface SoakLoad {
  readonly counts: Readonly<SoakCounts>;
  /** Calls begun so far: the next call's n. */
  readonly begun: number;
  /** Stops every lane after its call in flight; resolves when all have. */
  stop(): Promise<void>;
}

const SYSTEM = 'You answer from the harbour rules, in one short paragraph. '.repeat(40);

export function startSoakLoad(options: SoakLoadOptions): SoakLoad {
  const counts: SoakCounts = {
    plain: 0,
    streamed: 0,
    durable: 0,
    runs: 0,
    failures: {},
    failureSamples: [],
  };
  let n = 0;
  let stopping = false;

  const post = async (
    path: string,
    key: string,
    body: unknown,
    extra: Record<string, string> = {},
  ): Promise<boolean> => {
    let status = 0;
    let text = '';
    try {
      const response = await fetch(`${options.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key, ...extra },
        body: JSON.stringify(body),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      text = String(error);
    }
    if (status === 200) return true;
    counts.failures[String(status)] = (counts.failures[String(status)] ?? 0) + 1;
    if (counts.failureSamples.length < 5)
      counts.failureSamples.push(`${path} ${String(status)} ${text.slice(0, 300)}`);
    return false;
  };

  const message = (i: number, stream: boolean) => {
    const conversation = i % options.conversations;
    const cached = !stream && i % 4 === 0;
    return {
      model: PRIMARY_MODEL,
      max_tokens: 64,
      stream,
      ...(cached ? { temperature: 0 } : {}),
      system: [
        {
          type: 'text',
          text: `Conversation ${String(conversation)}. ${SYSTEM}`,
          cache_control: { type: 'ephemeral' },
        },
      ],
      messages: [{ role: 'user', content: `Question ${String(i)}: what is a bulkhead?` }],
    };
  };

  const plainOrStreamed = async (stream: boolean) => {
    const i = n++;
    const key = options.keys[i % options.keys.length] ?? '';
    if (await post('/v1/messages', key, message(i, stream))) {
      if (stream) counts.streamed++;
      else counts.plain++;
    }
  };

  const durableRun = async (agentRun: boolean) => {
    const i = n++;
    const key = options.keys[i % options.keys.length] ?? '';
    counts.runs++;
    if (agentRun) {
      const input = `File the tickets: use tool tools__echo ${String(options.toolSteps)} times.`;
      if (await post('/v1/agent/invoke', key, { input }, { 'idempotency-key': randomUUID() }))
        counts.durable++;
      return;
    }
    const run = { 'breakwater-run-id': randomUUID(), 'breakwater-run-attempt': randomUUID() };
    for (let step = 0; step < RUN_STEPS && !stopping; step++) {
      if (!(await post('/v1/messages', key, message(i + step, step === RUN_STEPS - 1), run)))
        return;
      counts.durable++;
    }
  };

  const lane = async (index: number) => {
    let turn = 0;
    while (!stopping) {
      if (index % 8 === 0) await durableRun(turn++ % 2 === 0);
      else await plainOrStreamed(index % 8 <= 2);
    }
  };

  const lanes = Array.from({ length: options.concurrency }, (_, i) => lane(i));
  return {
    counts,
    get begun() {
      return n;
    },
    async stop() {
      stopping = true;
      await Promise.all(lanes);
    },
  };
}

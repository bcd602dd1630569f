/**
 * A team's own agent as a durable run sees it, run as a child process by the durable-run tests:
 * the official SDKs, pointed at the runtime, the run and this start's attempt (a new id each
 * time the process starts) named once in their default headers.
 * Each step asks the model (the simulator, told to call the tool) and calls the tool it chose
 * through `/mcp/tools` with the model's tool_use id in the title, so a step's effect is tied to
 * the answer it came from. One JSON line per finished step on stdout.
 *
 * Environment: RUNTIME_URL, API_KEY, RUN_ID, TOOL (file_ticket), STEPS (6), STREAM (1: stream
 * every model call), STOP_AFTER (hang after this many steps, until killed), TIME_AT (put the
 * time into this step's prompt, as agents that diverge do), POLL (1: ask `echo` "status?"
 * before the first step and after each, the same call every time, as an agent that polls
 * does), TITLE_RUN (1: end each ticket's title with ` of <RUN_ID>`, so that the tool server's
 * effects of several runs at once are told apart).
 */
import { randomUUID } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const env = process.env;
const url = env['RUNTIME_URL'] ?? '';
const key = env['API_KEY'] ?? '';
const run = env['RUN_ID'] ?? '';
const tool = env['TOOL'] ?? 'file_ticket';
const steps = Number(env['STEPS'] ?? 6);
const stream = env['STREAM'] === '1';
const stopAfter = Number(env['STOP_AFTER'] ?? Infinity);
const timeAt = Number(env['TIME_AT'] ?? 0);
const model = env['MODEL'] ?? '';
const poll = env['POLL'] === '1';
const titleEnd = env['TITLE_RUN'] === '1' ? ` of ${run}` : '';

const headers = { 'Breakwater-Run-Id': run, 'Breakwater-Run-Attempt': randomUUID() };
const anthropic = new Anthropic({
  baseURL: url,
  apiKey: key,
  maxRetries: 0,
  defaultHeaders: headers,
});
const mcp = new Client({ name: 'durable-test-agent', version: '1.0.0' });
await mcp.connect(
  new StreamableHTTPClientTransport(new URL(`${url}/mcp/tools`), {
    requestInit: { headers: { authorization: `Bearer ${key}`, ...headers } },
  }),
);

/** The same request every time: its step in the journal is told apart by its place alone. */
async function status(): Promise<void> {
  if (poll) await mcp.callTool({ name: 'echo', arguments: { text: 'status?' } });
}

let previous = 'nothing yet';
await status();
for (let step = 1; step <= steps; step++) {
  const when = step === timeAt ? ` The time is ${new Date().toISOString()}.` : '';
  const request = {
    model,
    max_tokens: 64,
    messages: [
      {
        role: 'user' as const,
        content: `Step ${String(step)}.${when} The last step said: ${previous}. Use tool ${tool}.`,
      },
    ],
    tools: [
      {
        name: tool,
        description: 'The effect of this step.',
        input_schema: { type: 'object' as const, properties: { title: { type: 'string' } } },
      },
    ],
    tool_choice: { type: 'tool' as const, name: tool },
  };
  const message = stream
    ? await anthropic.messages.stream(request).finalMessage()
    : await anthropic.messages.create(request);
  const use = message.content.find((block) => block.type === 'tool_use');
  if (use === undefined) throw new Error(`step ${String(step)}: the model called no tool`);
  const result = await mcp.callTool({
    name: tool,
    arguments: { title: `step ${String(step)} ${use.id}${titleEnd}` },
  });
  const content = result.content as { type: string; text?: string }[];
  previous = content.map((c) => c.text ?? '').join(' ');
  await status();
  process.stdout.write(
    `${JSON.stringify({ step, messageId: message.id, isError: result.isError === true, text: previous })}\n`,
  );
  if (step >= stopAfter) {
    // Killed here, as a pod is.
    setInterval(() => undefined, 60_000);
    await new Promise(() => undefined);
  }
}
process.stdout.write(`${JSON.stringify({ finished: true })}\n`);
await mcp.close();

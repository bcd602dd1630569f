/**
 * The store's Lua scripts, read from their own files (admit.lua, settle.lua, pause.lua
 * next to this one; budget.lua, the budgets' part, is prepended to admit and settle, so one
 * call decides limits and budgets together) and run by SHA: EVALSHA costs one round trip and sends a 40-byte digest
 * instead of the script; a server that has not seen the script (restarted, flushed, failed
 * over) answers NOSCRIPT, and then EVAL sends it whole once, which also caches it again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const read = (name: string): string =>
  readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');

/** The script `name`, after the files of `prelude` (which only define local functions). */
function load(name: string, prelude: readonly string[] = []): LuaScript {
  const source = [...prelude, name].map(read).join('\n');
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The scripts budget.lua is prepended to (test/rateLimitStore/scriptRunner.lua does the same). */
export const BUDGET_PRELUDE = ['budget'] as const;

export const ADMIT_SCRIPT = load('admit', BUDGET_PRELUDE);
export const SETTLE_SCRIPT = load('settle', BUDGET_PRELUDE);
export const PAUSE_SCRIPT = load('pause');
export const RENEW_SCRIPT = load('renew');

/** The two calls a script needs from a client (node-redis's, or a test's). */
export interface ScriptRunner {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Runs `script` by its SHA, sending the source only when the server answers NOSCRIPT. */
export async function runScript(
  client: ScriptRunner,
  script: LuaScript,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await client.evalSha(script.sha, { keys, arguments: args });
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.eval(script.source, { keys, arguments: args });
  }
}

/** The one call `sendScript` needs from a client: node-redis's `sendCommand`. */
export interface CommandSender {
  sendCommand(args: readonly string[]): Promise<unknown>;
}

/**
 * `runScript` as one raw command: node-redis's `evalSha` builds its arguments through the
 * command's parser and reply transform, about 10 µs of CPU per call more than the same
 * EVALSHA sent as it is (a journaled call's one or two round trips, issue 36).
 */
export async function sendScript(
  client: CommandSender,
  script: LuaScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const rest = [String(keys.length), ...keys, ...args];
  try {
    return await client.sendCommand(['EVALSHA', script.sha, ...rest]);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return client.sendCommand(['EVAL', script.source, ...rest]);
  }
}

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

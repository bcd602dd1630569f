/**
 * Budgets in the store's scripts under the real `lua5.1` interpreter, with a clock the test
 * sets (scriptRunner.lua): exact amounts past 2^53, all or nothing across budgets, Shadow,
 * leases that lapse and settlements that come after them; each case also with every call the
 * general way. budgetScripts.test.ts runs the same cases on a real redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIT_SCRIPT, SETTLE_SCRIPT } from '../../runtime/src/rateLimitStore/luaScripts.ts';
import { CASES, SCRIPTS_DIR, runUnderLua } from './budgetScriptCases.ts';

describe('budgets in the store scripts under lua5.1', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bw-budget-lua-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES)('%s', (name, steps, expected) => {
    expect(runUnderLua(dir, name, steps)).toEqual(expected);
  });

  // budget.lua decides the common call (one account, nothing riding) on a path of its own: the
  // general one must answer and write the same.
  it.each(CASES)('%s, every call the general way', (name, steps, expected) => {
    expect(runUnderLua(dir, `${name} general`, steps, true)).toEqual(expected);
  });

  it('runs admit and settle with budget.lua in front of them, as the runner does', () => {
    const source = (name: string) => readFileSync(join(SCRIPTS_DIR, `${name}.lua`), 'utf8');
    expect(ADMIT_SCRIPT.source).toBe(`${source('budget')}\n${source('admit')}`);
    expect(SETTLE_SCRIPT.source).toBe(`${source('budget')}\n${source('settle')}`);
  });
});

/**
 * The ACL rule docs/rate-limit-store.md gives users lets through every command the store sends:
 * Redis checks the commands a script runs too, so a rule with only EVALSHA breaks every call.
 * test/rateLimitStore/redisStore.test.ts runs the store under this very rule.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { documentedAclRule } from '../../../test/support/documentedAcl.ts';

const here = new URL('./', import.meta.url);

function allowed(rule: string): Set<string> {
  return new Set(
    rule
      .split(/\s+/)
      .filter((part) => part.startsWith('+') && !part.startsWith('+@'))
      .map((part) => part.slice(1).toUpperCase()),
  );
}

describe("the store's documented ACL rule", () => {
  it('allows every command the store scripts run, and what the pins and probes send', () => {
    const rule = documentedAclRule();
    const commands = allowed(rule);
    const called = new Set<string>();
    for (const file of readdirSync(here).filter((f) => f.endsWith('.lua')))
      for (const [, command] of readFileSync(new URL(file, here), 'utf8').matchAll(
        /redis\.call\('([A-Z]+)'/g,
      ))
        called.add(command ?? '');
    expect(called.size).toBeGreaterThan(5);
    // The scripts are run by SHA (EVAL when the server lost them); the pins read and write
    // their keys directly (cachePins.ts); PING probes a store that stopped answering.
    for (const command of [...called, 'EVALSHA', 'EVAL', 'MGET', 'SET', 'PING'])
      expect({ command, allowed: commands.has(command) }).toEqual({ command, allowed: true });
    expect(rule).toContain(' ~breakwater:* ');
    expect(rule).toContain(' -@all ');
  });
});

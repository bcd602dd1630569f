import { describe, expect, it } from '@jest/globals';
import { UNANSWERED, evictingPolicy, evictingPolicyOf } from './evictionPolicy.ts';
import type { CommandSender } from './luaScripts.ts';
import type { StoreCommands } from './storeCommands.ts';

const info = (maxmemory: string, policy: string) =>
  `# Memory\r\nused_memory:1031432\r\nmaxmemory:${maxmemory}\r\nmaxmemory_human:64.00M\r\nmaxmemory_policy:${policy}\r\nallocator_frag_ratio:1.01\r\n`;

describe('evictingPolicyOf', () => {
  it.each([
    ['volatile-ttl', '67108864', 'volatile-ttl'],
    ['volatile-lru', '67108864', 'volatile-lru'],
    ['allkeys-lru', '1', 'allkeys-lru'],
    ['noeviction', '67108864', undefined],
    // No maxmemory: Redis never evicts, whatever the policy says.
    ['volatile-ttl', '0', undefined],
  ])('%s with maxmemory %s: %s', (policy, maxmemory, expected) => {
    expect(evictingPolicyOf(info(maxmemory, policy))).toBe(expected);
  });

  it('reads nothing into an answer without the fields', () => {
    expect(evictingPolicyOf('# Memory\r\nused_memory:1\r\n')).toBeUndefined();
  });
});

describe('evictingPolicy on a store of several servers (a cluster)', () => {
  const answering = (text: string | Error): CommandSender => ({
    sendCommand: () => (typeof text === 'string' ? Promise.resolve(text) : Promise.reject(text)),
  });
  /** A client whose keyless INFO goes to `first`, with `servers` listing every primary. */
  const cluster = (first: CommandSender, ...others: CommandSender[]) =>
    ({
      sendCommand: (args: readonly string[]) => first.sendCommand(args),
      servers: () => Promise.resolve([first, ...others]),
    }) as unknown as StoreCommands;
  const safe = answering(info('0', 'noeviction'));

  it('says a primary may evict though the one a keyless INFO reaches does not', async () => {
    const evicting = answering(info('67108864', 'volatile-ttl'));
    expect(await evictingPolicy(cluster(safe, safe, evicting))).toBe('volatile-ttl');
  });

  it('evicts nothing only when every primary says so', async () => {
    expect(await evictingPolicy(cluster(safe, safe, safe))).toBeNull();
  });

  it('keeps what was known when a primary did not answer and none may evict', async () => {
    expect(await evictingPolicy(cluster(safe, answering(new Error('Socket closed'))))).toBe(
      UNANSWERED,
    );
  });
});

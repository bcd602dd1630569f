import { describe, expect, it } from '@jest/globals';
import { evictingPolicyOf } from './evictionPolicy.ts';

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

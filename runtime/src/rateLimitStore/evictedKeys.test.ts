import { describe, expect, it } from '@jest/globals';
import {
  EvictedKeys,
  FORGET_AFTER_CHECKS,
  evictionReadingOf,
  type EvictionReading,
} from './evictedKeys.ts';

const info = (runId: string, evicted: string) =>
  `# Server\r\nredis_version:7.0.15\r\nrun_id:${runId}\r\ntcp_port:6379\r\n\r\n# Stats\r\nexpired_keys:12\r\nevicted_keys:${evicted}\r\nevicted_clients:0\r\n`;
const reading = (runId: string, evictedKeys: number): EvictionReading => ({
  runId,
  port: '6379',
  evictedKeys,
});

describe('evictionReadingOf', () => {
  it('reads the process and its evicted keys (not expired_keys or evicted_clients)', () => {
    expect(evictionReadingOf(info('a1', '434'))).toEqual(reading('a1', 434));
  });

  it('reads nothing from an answer without them (INFO memory alone)', () => {
    expect(evictionReadingOf('# Memory\r\nmaxmemory:0\r\n')).toBeUndefined();
    expect(evictionReadingOf('# Server\r\nrun_id:a1\r\n')).toBeUndefined();
  });
});

describe('EvictedKeys', () => {
  it("takes a server's first reading as a baseline, then counts what it grew by", () => {
    const evicted = new EvictedKeys();
    expect(evicted.observe([reading('a1', 434)])).toEqual([]);
    expect(evicted.total).toBe(0);
    expect(evicted.observe([reading('a1', 434)])).toEqual([]);
    expect(evicted.observe([reading('a1', 440)])).toEqual([reading('a1', 6)]);
    expect(evicted.observe([reading('a1', 450)])).toEqual([reading('a1', 10)]);
    expect(evicted.total).toBe(16);
  });

  it('keeps each server of a cluster apart', () => {
    const evicted = new EvictedKeys();
    evicted.observe([reading('a1', 5), reading('b2', 100)]);
    expect(evicted.observe([reading('a1', 5), reading('b2', 103)])).toEqual([reading('b2', 3)]);
    // A server that did not answer this time is compared with its own last count next time.
    expect(evicted.observe([reading('a1', 7)])).toEqual([reading('a1', 2)]);
    expect(evicted.observe([reading('a1', 7), reading('b2', 104)])).toEqual([reading('b2', 1)]);
    expect(evicted.total).toBe(6);
  });

  it('starts again from a new process (restart, failover): its first count is a baseline', () => {
    const evicted = new EvictedKeys();
    evicted.observe([reading('a1', 900)]);
    expect(evicted.observe([reading('c3', 40)])).toEqual([]);
    expect(evicted.observe([reading('c3', 41)])).toEqual([reading('c3', 1)]);
    expect(evicted.total).toBe(1);
  });

  it('takes a count that went down (CONFIG RESETSTAT) as a new baseline', () => {
    const evicted = new EvictedKeys();
    evicted.observe([reading('a1', 900)]);
    expect(evicted.observe([reading('a1', 0)])).toEqual([]);
    expect(evicted.observe([reading('a1', 4)])).toEqual([reading('a1', 4)]);
    expect(evicted.total).toBe(4);
  });

  it('forgets a server unread for FORGET_AFTER_CHECKS checks: its next reading is a baseline', () => {
    const evicted = new EvictedKeys();
    evicted.observe([reading('a1', 10), reading('b2', 0)]);
    for (let i = 1; i < FORGET_AFTER_CHECKS; i++) evicted.observe([reading('b2', 0)]);
    expect(evicted.observe([reading('a1', 12)])).toEqual([reading('a1', 2)]);
    for (let i = 0; i < FORGET_AFTER_CHECKS; i++) evicted.observe([reading('b2', 0)]);
    expect(evicted.observe([reading('a1', 20)])).toEqual([]);
  });
});

-- Appends a live call's done step where this replica last left the run (its live tail),
-- in one round trip instead of a claim before the call and a write after it. Refused (0) when
-- the run is not where the replica thinks: another attempt or replica moved it, or it expired;
-- the caller then claims the step as any call does.
-- KEYS: 1 the journal, 2 the cursor, 3 the owner. ARGV: 1 owner, 2 position, 3 entry, 4 retention ms,
-- 5 the call's attempt.
-- The owner and the cursor in one command (each command a script runs costs a few µs more).
local held = redis.call('MGET', KEYS[3], KEYS[2])
local whose = ownerVerdict(held[1], ARGV[1])
if whose == 'other' then
  return -1
end
if whose == 'rekeyed' then
  -- Written under a journal key since rotated: the claim starts the run again.
  return 0
end
local position = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[1]) ~= position then
  return 0
end
local cursor, attempt = cursorOf(held[2])
if cursor ~= position or attempt ~= ARGV[5] then
  return 0
end
local ttl = tonumber(ARGV[4])
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], cursorText(position + 1, attempt), 'PX', ttl)
redis.call('SET', KEYS[3], ARGV[1], 'PX', ttl)
return 1

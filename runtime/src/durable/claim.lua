-- Claims the next step of a run for one call (durable/runJournal.ts says when each answer applies).
-- KEYS: 1 the journal (a list), 2 the cursor of the run's current attempt (cursor.lua), 3 the
-- run's owner, 4 the run's event counts (a hash, durable/runListing.ts): counted here, in the
-- same round trip, 5 the attempts the run has had (a set).
-- ARGV: 1 owner fingerprint, 2 kind code (m|t), 3 match hash, 4 retention ms, 5 started header,
-- 6 the call's attempt (every call names one: nothing is matched by what it resembles).
-- Replies {verdict, position, entry, flag}: replay (flag 1: a new attempt began), live (flag 1:
-- the run diverged at position, the rest of its journal dropped), forbidden, or superseded (the
-- call's attempt is one the run had before a newer one began: it may not move the run).
-- The owner and the cursor in one command (each command a script runs costs a few µs more).
local held = redis.call('MGET', KEYS[3], KEYS[2])
local whose = ownerVerdict(held[1], ARGV[1])
if whose == 'other' then
  return { 'forbidden', -1, '', 0 }
end
if whose == 'rekeyed' then
  -- Sealed under a journal key since rotated: unreadable, so the run begins again, live.
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[4], KEYS[5])
  held[2] = false
end
local ttl = tonumber(ARGV[4])
local attempt = ARGV[6]
local want = ARGV[2] .. ARGV[3]
local function same(entry)
  return string.sub(entry, 1, 1) .. string.sub(entry, 3, 66) == want
end
local function touch(cursor)
  redis.call('SET', KEYS[2], cursorText(cursor, attempt), 'PX', ttl)
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[5], ttl)
end
local function count(event)
  redis.call('HINCRBY', KEYS[4], event, 1)
  redis.call('PEXPIRE', KEYS[4], ttl)
end
-- A done step is answered from the journal (a started one has an unknown outcome).
local function replayed(entry)
  if string.sub(entry, 2, 2) == 'd' then
    count('replayed')
  end
end
local length = redis.call('LLEN', KEYS[1])
local cursor, current = cursorOf(held[2])
-- An attempt other than the cursor's: a new one, matched from the first step by place (never by
-- what its first call resembles); one the run had before is a superseded attempt.
local begun = 0
if attempt ~= current then
  if redis.call('SADD', KEYS[5], attempt) == 0 then
    return { 'superseded', -1, '', 0 }
  end
  redis.call('PEXPIRE', KEYS[5], ttl)
  cursor = 0
  if length > 0 then
    begun = 1
  end
end
if cursor > length then
  cursor = length
end
if cursor < length then
  local entry = redis.call('LINDEX', KEYS[1], cursor)
  if same(entry) then
    touch(cursor + 1)
    if begun == 1 then
      count('resumed')
    end
    replayed(entry)
    return { 'replay', cursor, entry, begun }
  end
  -- Tool calls made in parallel may arrive in another order: a tool step later in the same run
  -- of tool steps is swapped into the cursor's place (at most 16 looked at).
  if ARGV[2] == 't' and string.sub(entry, 1, 1) == 't' then
    local last = math.min(length - 1, cursor + 16)
    for at = cursor + 1, last do
      local later = redis.call('LINDEX', KEYS[1], at)
      if string.sub(later, 1, 1) ~= 't' then
        break
      end
      if same(later) then
        redis.call('LSET', KEYS[1], at, entry)
        redis.call('LSET', KEYS[1], cursor, later)
        touch(cursor + 1)
        if begun == 1 then
          count('resumed')
        end
        replayed(later)
        return { 'replay', cursor, later, begun }
      end
    end
  end
end
local diverged = 0
if cursor < length then
  if cursor == 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('LTRIM', KEYS[1], 0, cursor - 1)
  end
  diverged = 1
  count('diverged')
end
local position = redis.call('RPUSH', KEYS[1], ARGV[5]) - 1
touch(position + 1)
return { 'live', position, '', diverged }

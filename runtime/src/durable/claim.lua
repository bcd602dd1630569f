-- Claims the next step of a run for one call (durable/runJournal.ts says when each answer applies).
-- KEYS: 1 the journal (a list), 2 the cursor of the run's current attempt (cursor.lua), 3 the
-- run's owner, 4 the run's event counts (a hash, durable/runListing.ts): counted here, in the
-- same round trip, 5 the attempts the run has had (a set).
-- ARGV: 1 owner fingerprint, 2 kind code (m|t), 3 match hash, 4 retention ms, 5 started header,
-- 6 the call's attempt (every call names one: nothing is matched by what it resembles),
-- 7 a claim of this attempt the runtime refused to act on, to take back ('' or
-- `<position>:<L|R>:<its 66-char header>`: L a live claim, R a replay), 8 the calls of this
-- attempt that went on without the journal since its last claim (runDebts.ts), each 67 chars:
-- `m` when its claim may have landed (no answer in time) or `n` when it cannot have, then its
-- started header, 9 the attempt that owes 7 and 8 ('' or the call's own; another attempt's
-- is paid only while the cursor is still that attempt's: an agent started again before its old
-- attempt's next call). Both keep an attempt's calls at their own places (runJournal.ts).
-- Replies {verdict, position, entry, flag, length}: replay (flag 1: a new attempt began), live
-- (flag 1: the run diverged at position, the rest of its journal dropped), forbidden, or
-- superseded (the call's attempt is one the run had before a newer one began: it may not move
-- the run); length, the journal's steps after the claim.
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
-- A step's kind and match hash, without its state.
local function key(entry)
  return string.sub(entry, 1, 1) .. string.sub(entry, 3, 66)
end
local function same(entry)
  return key(entry) == want
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
-- The calls that went on without the journal, each in its own place: a started marker (on
-- resume, an unknown outcome: a tool not made again unless it may be), or passed over where
-- the journal already holds that call (it was replayed live).
-- Calls whose claim got no answer (`m`, always first) may have landed: where this attempt's
-- steps just before the cursor are the longest run of them, those were placed already.
local diverged = 0
-- The run diverged at the cursor: the journal from it on is dropped.
local function dropFromCursor()
  if cursor == 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('LTRIM', KEYS[1], 0, cursor - 1)
  end
  diverged = 1
  count('diverged')
end
local owed = ARGV[8] or ''
local function pay()
  if cursor > length then
    cursor = length
  end
  local first = 1
  local maybe = 0
  while string.sub(owed, maybe * 67 + 1, maybe * 67 + 1) == 'm' do
    maybe = maybe + 1
  end
  maybe = math.min(maybe, cursor, 16)
  if maybe > 0 then
    local before = redis.call('LRANGE', KEYS[1], cursor - maybe, cursor - 1)
    for placed = maybe, 1, -1 do
      local all = true
      for i = 1, placed do
        local entry = before[maybe - placed + i]
        if key(entry) ~= key(string.sub(owed, (i - 1) * 67 + 2, i * 67)) then
          all = false
          break
        end
      end
      if all then
        first = placed * 67 + 1
        break
      end
    end
  end
  for at = first, #owed, 67 do
    local header = string.sub(owed, at + 1, at + 66)
    if cursor < length and key(redis.call('LINDEX', KEYS[1], cursor)) == key(header) then
      cursor = cursor + 1
    else
      if cursor < length then dropFromCursor() end
      length = redis.call('RPUSH', KEYS[1], header)
      cursor = length
    end
  end
end
local debtor = ARGV[9]
if debtor == nil or debtor == '' then
  debtor = attempt
end
-- An attempt other than the cursor's: a new one, matched from the first step by place (never by
-- what its first call resembles); one the run had before is a superseded attempt.
local fresh = false
if attempt ~= current then
  if redis.call('SADD', KEYS[5], attempt) == 0 then
    return { 'superseded', -1, '', 0 }
  end
  redis.call('PEXPIRE', KEYS[5], ttl)
  fresh = true
end
-- A refused claim never ran its call: the cursor goes back before it, and its marker goes.
if ARGV[7] ~= '' and ARGV[7] ~= nil and debtor == current then
  local at, how, header = string.match(ARGV[7], '^(%d+):([LR]):(.+)$')
  at = tonumber(at)
  if at ~= nil and cursor == at + 1 then
    local entry = redis.call('LINDEX', KEYS[1], at)
    if entry and string.sub(entry, 1, 66) == header then
      if how == 'L' and at == length - 1 then
        redis.call('RPOP', KEYS[1])
        length = length - 1
      end
      cursor = at
    end
  end
end
-- What the attempt the cursor still holds owes, paid by a call of a new one (an agent started
-- again before its old attempt's next call).
if fresh and owed ~= '' and debtor == current then
  pay()
end
local begun = 0
if fresh then
  cursor = 0
  if length > 0 then
    begun = 1
  end
end
if cursor > length then
  cursor = length
end
if owed ~= '' and debtor == attempt then
  pay()
end
if cursor < length then
  local entry = redis.call('LINDEX', KEYS[1], cursor)
  if same(entry) then
    touch(cursor + 1)
    if begun == 1 then
      count('resumed')
    end
    replayed(entry)
    return { 'replay', cursor, entry, begun, length }
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
        return { 'replay', cursor, later, begun, length }
      end
    end
  end
end
if cursor < length then dropFromCursor() end
local position = redis.call('RPUSH', KEYS[1], ARGV[5]) - 1
touch(position + 1)
return { 'live', position, '', diverged, position + 1 }

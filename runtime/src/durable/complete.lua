-- Writes a claimed step's answer in place of its started marker, or drops the marker of a call
-- that failed (ARGV 3 empty) when it is still the journal's last step and the cursor is still
-- the failed call's attempt's, just past it: a marker another attempt has since reached (a
-- takeover replaying the run) is that attempt's to answer, and its cursor is not moved.
-- KEYS: 1 the journal, 2 the cursor, 3 the owner. ARGV: 1 position, 2 started header,
-- 3 the done entry (empty: abandon), 4 retention ms, 5 the call's attempt (abandon only).
local position = tonumber(ARGV[1])
local entry = redis.call('LINDEX', KEYS[1], position)
if not entry or string.sub(entry, 1, 66) ~= ARGV[2] then
  return 0
end
local ttl = tonumber(ARGV[4])
if ARGV[3] == '' then
  local cursor, attempt = cursorOf(redis.call('GET', KEYS[2]))
  local last = position == redis.call('LLEN', KEYS[1]) - 1
  if last and cursor == position + 1 and attempt == (ARGV[5] or '') then
    redis.call('RPOP', KEYS[1])
    redis.call('SET', KEYS[2], cursorText(position, attempt), 'PX', ttl)
  end
  return 1
end
redis.call('LSET', KEYS[1], position, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1

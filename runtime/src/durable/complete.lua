-- Writes a claimed step's answer in place of its started marker, or drops the marker of a call
-- that failed (ARGV 3 empty) when it is still the journal's last step.
-- KEYS: 1 the journal, 2 the cursor, 3 the owner. ARGV: 1 position, 2 started header,
-- 3 the done entry (empty: abandon), 4 retention ms.
local position = tonumber(ARGV[1])
local entry = redis.call('LINDEX', KEYS[1], position)
if not entry or string.sub(entry, 1, 66) ~= ARGV[2] then
  return 0
end
local ttl = tonumber(ARGV[4])
if ARGV[3] == '' then
  if position == redis.call('LLEN', KEYS[1]) - 1 then
    redis.call('RPOP', KEYS[1])
    local _, attempt = cursorOf(redis.call('GET', KEYS[2]))
    redis.call('SET', KEYS[2], cursorText(position, attempt), 'PX', ttl)
  end
  return 1
end
redis.call('LSET', KEYS[1], position, ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return 1

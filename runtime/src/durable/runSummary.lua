-- Reads one run for a listing (durable/runListing.ts), changing nothing: each step's kind and
-- state (the entry's first two characters, never its sealed answer), the cursor, the owner,
-- the journal's time to live and the run's event counts.
-- KEYS: 1 the journal, 2 the cursor, 3 the owner, 4 the run's counts (a hash).
-- ARGV: 1 the most steps to read.
-- Replies {codes, length, cursor, owner, pttl, counts (field, value, …)}.
local length = redis.call('LLEN', KEYS[1])
local last = math.min(length, tonumber(ARGV[1])) - 1
local codes = {}
for at = 0, last do
  codes[#codes + 1] = string.sub(redis.call('LINDEX', KEYS[1], at), 1, 2)
end
return {
  table.concat(codes, ','),
  length,
  redis.call('GET', KEYS[2]) or '0',
  redis.call('GET', KEYS[3]) or '',
  redis.call('PTTL', KEYS[1]),
  redis.call('HGETALL', KEYS[4]),
}

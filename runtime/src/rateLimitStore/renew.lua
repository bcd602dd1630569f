-- Renews the budget leases of calls still running (budgetLeases.ts): a replica's one timer
-- sends every call that has run past a renewal interval in one script call, so a call pays
-- no round trip for it. A lease the account no longer holds (settled, or lapsed and
-- released) stays gone: renewing never brings back a worst case. A lease only moves later,
-- so the account's lapse_at, a lower bound on its leases' ends, stays true.
--
-- KEYS    every renewal's accounts, in order.
-- ARGV[1] the count of renewals; then per renewal its count of accounts, the reservation id
--         and the lease from now (ms, on the server's clock, as admit.lua's).
-- Returns the number of leases renewed.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local renewed, k, g = 0, 1, 2
for _ = 1, tonumber(ARGV[1]) do
  local n, field = tonumber(ARGV[g]), 'lease:' .. ARGV[g + 1]
  local endsAt = math.ceil(now + tonumber(ARGV[g + 2]))
  for i = 0, n - 1 do
    local key = KEYS[k + i]
    local lease = redis.call('HMGET', key, field)[1]
    if lease then
      local ends, rest = string.match(lease, '^(%d+)(:.*)$')
      if ends ~= nil and tonumber(ends) > now and endsAt > tonumber(ends) then
        redis.call('HSET', key, field, string.format('%d', endsAt) .. rest)
        renewed = renewed + 1
      end
    end
  end
  k, g = k + n, g + 3
end
return renewed

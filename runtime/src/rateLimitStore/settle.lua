-- Trues charges up after the call: a token reservation to the real usage, or a whole charge
-- given back for a call that never went out. Never fills a bucket above its capacity.
--
-- KEYS[1] requests, KEYS[2] input tokens, KEYS[3] output tokens (TATs, as in admit.lua).
-- ARGV    per limit its rate per ms (0 = no such limit) and the amount to give back
--         (negative: charge more, the call used more than it reserved).
-- KEYS[4…] and ARGV[7…], when budget reservations settle: their count, then each one's
--         arguments (budget.lua's budgetSettleAll, prepended to this script).
-- Returns the number of limits changed; with settlements {limits changed, accounts released}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local changed = 0
for i = 1, 3 do
  local rate = tonumber(ARGV[i * 2 - 1])
  local back = tonumber(ARGV[i * 2])
  if rate > 0 and back ~= 0 then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    tat = tat - back / rate
    if tat <= now then
      redis.call('DEL', KEYS[i])
    else
      redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
    end
    changed = changed + 1
  end
end
if tonumber(ARGV[7] or '0') > 0 then return budgetFlush({changed, (budgetSettleAll(7))}) end
return changed

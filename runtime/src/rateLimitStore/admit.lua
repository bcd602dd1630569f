-- Admits one call against the store's counters, atomically: a GCRA (generic cell rate
-- algorithm, a token bucket kept as one number) per limit, plus the provider's shared pause.
-- Every limit is checked first and charged only if the call goes, so a call is charged
-- everywhere or nowhere. Time is the server's, so replicas' clocks never disagree.
--
-- KEYS[1] requests, KEYS[2] input tokens, KEYS[3] output tokens: each the limit's theoretical
--         arrival time (TAT, epoch ms) - the moment its bucket is full again; absent = full.
-- KEYS[4] the provider's pause: epoch ms before which no call may go (retry-after).
-- ARGV    per limit (requests, input, output) its rate per ms (0 = no such limit), its
--         capacity and this call's cost; then the replica's own pacing wait (ms) and the
--         longest wait a call may be charged ahead for (onLimit: Wait; 0 = only now).
-- KEYS[5…] and ARGV[12…], when the call must also fit budgets: see budget.lua (budgetCheck),
--         which is prepended to this script. A call goes only if the limits and every budget
--         that refuses fit: then both are charged, otherwise neither. ARGV[12] is 0 without.
-- Then, optionally, settlements of earlier calls that ride along (budgetSettleAll: their
--         count, then each one's arguments, which name their KEYS by place: an account the
--         call's budgets list already is not listed again), applied first.
-- Returns {wait ms (whole, rounded up), reason (0 requests, 1 input, 2 output, 3 provider),
--          charged (1 when the call goes after `wait`, 0 when refused)}; with budgets, then
--          held (1 when the budgets hold the call's worst case), the first account that
--          refused (1-based; 0 none; reason 4 then), and per account its state and six
--          amounts (budget.lua's budgetReply).

-- Charges the call to every limit that counts it (tats: their TATs as read, by limit).
local function chargeLimits(tats, now)
  for i = 1, 3 do
    local tat = tats[i]
    if tat ~= nil then
      tat = tat + tonumber(ARGV[i * 3]) / tonumber(ARGV[i * 3 - 2])
      -- The key lives until its bucket is full again: after that it says nothing.
      redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
    end
  end
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local budgets = tonumber(ARGV[12] or '0')
local settlements = 13
if budgets > 0 then settlements = 19 + 5 * budgets end
budgetSettleAll(settlements)

local wait, reason = 0, 0
local tats = {}
for i = 1, 3 do
  local rate = tonumber(ARGV[i * 3 - 2])
  local cost = tonumber(ARGV[i * 3])
  if rate > 0 and cost > 0 then
    local capacity = tonumber(ARGV[i * 3 - 1])
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    tats[i] = tat
    -- A call costlier than the whole bucket waits for a full one rather than forever.
    local need = cost < capacity and cost or capacity
    local w = tat - now - (capacity - need) / rate
    if w > wait then wait, reason = w, i - 1 end
  end
end

local paused = tonumber(redis.call('GET', KEYS[4]) or '0') - now
local pacing = tonumber(ARGV[10])
if pacing > paused then paused = pacing end
if paused > wait then wait, reason = paused, 3 end

wait = math.ceil(wait)
local go = wait <= tonumber(ARGV[11])
local accounts, refused
-- One account and nothing riding, the common call: decided without the general bookkeeping.
local one = budgets == 1 and (ARGV[settlements] or '0') == '0' and budgetAdmitOne(5, 12, now, go)
if one then
  local reply = { wait, reason, 0, one[2], 0, one[1], one[3], one[4], one[5], one[6], one[7], one[8] }
  if one[1] == 2 then reply[2], reply[5] = 4, 1 end
  if not go or one[1] == 2 then return reply end
  reply[3] = 1
  chargeLimits(tats, now)
  return reply
end
if budgets > 0 then
  accounts, refused = budgetCheck(5, 12, now)
  if refused > 0 then return budgetFlush(budgetReply(wait, 4, 0, 0, refused, accounts)) end
  -- A Shadow limiter lets a call its limits refuse go uncharged; the budgets still decide.
  if not go and ARGV[18] ~= '1' then return budgetFlush(budgetReply(wait, reason, 0, 0, 0, accounts)) end
  budgetHold(accounts, 12, now)
end
if not go then
  if budgets > 0 then return budgetFlush(budgetReply(wait, reason, 0, 1, 0, accounts)) end
  return budgetFlush({wait, reason, 0})
end
chargeLimits(tats, now)
if budgets > 0 then return budgetFlush(budgetReply(wait, reason, 1, 1, 0, accounts)) end
return budgetFlush({wait, reason, 1})

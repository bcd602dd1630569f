-- Budgets in the store (RateLimitPolicy spec.budgets with spec.store): prepended to admit.lua
-- and settle.lua (luaScripts.ts), so that one script call decides a call's rate limits and every
-- budget it must fit together, all or nothing.
--
-- An account is one budget in one calendar period, for the whole agent or one client key:
--   <prefix>:budget:<agent>:<budget>:<periodStartMs>[:<key fingerprint>]          a hash:
--     spent_pico, reserved_pico, spent_tokens, reserved_tokens (decimal strings)
--   <same>:leases                                                                a sorted set:
--     one member per reservation still held, "<reservation id>:<worst pico>:<worst tokens>",
--     scored by the epoch ms its lease ends.
-- Both are kept until the period's end plus seven days (PEXPIREAT, the caller's number).
--
-- Time: which period an account belongs to is the caller's (its clock picks the key, in the
-- policy's time zone); leases are the server's (TIME), like the rate limits, so replicas whose
-- clocks disagree never release each other's reservations early.
--
-- Money is exact: Lua 5.1 numbers are doubles, exact only to 2^53 (9,007 dollars in
-- picodollars), so amounts travel as decimal strings and are added, subtracted and compared as
-- two limbs, hi * 10^12 + lo, each a whole number far inside a double's exact range.

local LIMB = 1000000000000

local function big(s)
  if s == false or s == nil or s == '' then return { 0, 0 } end
  if not string.match(s, '^%d+$') then error('budget amount is not a whole decimal: ' .. tostring(s)) end
  if #s <= 12 then return { 0, tonumber(s) } end
  return { tonumber(string.sub(s, 1, -13)), tonumber(string.sub(s, -12)) }
end

local function add(a, b)
  local lo = a[2] + b[2]
  local hi = a[1] + b[1]
  if lo >= LIMB then lo, hi = lo - LIMB, hi + 1 end
  return { hi, lo }
end

-- a - b, never below zero (a reservation released twice cannot make money).
local function sub(a, b)
  local hi, lo = a[1] - b[1], a[2] - b[2]
  if lo < 0 then lo, hi = lo + LIMB, hi - 1 end
  if hi < 0 then return { 0, 0 } end
  return { hi, lo }
end

local function le(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] <= b[2])
end

local function str(a)
  if a[1] == 0 then return string.format('%.0f', a[2]) end
  return string.format('%.0f%012.0f', a[1], a[2])
end

local FIELDS = { 'spent_pico', 'reserved_pico', 'spent_tokens', 'reserved_tokens' }
local AMOUNTS = { 'spentPico', 'reservedPico', 'spentTokens', 'reservedTokens' }

-- Accounts are read once per script call and written back once, at its end (budgetFlush): a
-- settlement riding in front of an admission, the admission's lapse and its hold all touch the
-- same account, and reading and writing it each time cost six more commands per call.
-- Beside the amounts the hash keeps two hints, so that most calls skip two commands:
--   lapse_at    epoch ms before which no lease in <key>:leases ends (a lower bound: a lease
--               settled early leaves it where it was); absent, the leases are swept.
--   keep_until  the epoch ms the hash's PEXPIREAT was last set to; the same: not set again.
-- An amount's string is kept as read and formatted again only once it changed: formatting a
-- number in Lua costs more than a command.
local cached, dirty, keepOf = {}, {}, {}

local function readAccount(key)
  local a = cached[key]
  if a ~= nil then return a end
  local v = redis.call('HMGET', key, FIELDS[1], FIELDS[2], FIELDS[3], FIELDS[4], 'lapse_at', 'keep_until')
  -- A field not there yet has no string: the first write sets it.
  a = { s = {}, set = {}, lapseAt = tonumber(v[5] or ''), keptUntil = v[6] }
  for i = 1, 4 do
    if v[i] then a.s[i] = v[i] else a.set[i] = true end
    a[AMOUNTS[i]] = big(v[i])
  end
  cached[key] = a
  return a
end

-- Sets amount `i` (1 spent pico … 4 reserved tokens) of `a`; its string is made again later.
local function setAmount(a, i, value)
  a[AMOUNTS[i]] = value
  a.s[i] = nil
  a.set[i] = true
  a.changed = true
end

local function amountString(a, i)
  local s = a.s[i]
  if s == nil then
    s = str(a[AMOUNTS[i]])
    a.s[i] = s
  end
  return s
end

local function writeAccount(key, a, keepUntil)
  cached[key] = a
  if keepOf[key] == nil then dirty[#dirty + 1] = key end
  keepOf[key] = keepUntil
end

-- Writes every account this call changed, in the order first changed (only the fields that
-- changed); then `reply`. Every return of admit.lua and settle.lua goes through it.
local function budgetFlush(reply)
  for _, key in ipairs(dirty) do
    local a, keep = cached[key], keepOf[key]
    local args = { 'HSET', key }
    for i = 1, 4 do
      if a.set[i] then
        args[#args + 1] = FIELDS[i]
        args[#args + 1] = amountString(a, i)
      end
    end
    if a.lapseText ~= nil then
      args[#args + 1] = 'lapse_at'
      args[#args + 1] = a.lapseText
    end
    if a.keptUntil ~= keep then
      args[#args + 1] = 'keep_until'
      args[#args + 1] = keep
    end
    if #args > 2 then redis.call(unpack(args)) end
    a.set, a.lapseText = {}, nil
    if a.keptUntil ~= keep then
      redis.call('PEXPIREAT', key, keep)
      a.keptUntil = keep
    end
  end
  dirty, keepOf = {}, {}
  return reply
end

-- The worst case a lease member holds: "<id>:<pico>:<tokens>".
local function leaseAmounts(member)
  local pico, tokens = string.match(member, ':(%d+):(%d+)$')
  return big(pico), big(tokens)
end

-- A new lower bound for the account's lease ends (budgetFlush writes it).
local function lapseHint(a, at, text)
  a.lapseAt = at
  a.lapseText = text or string.format('%.0f', math.floor(at))
end

-- Releases reservations whose lease ended before `now` (a replica that died mid-call), at most
-- `most` per account per call; the rest go on the next calls. Reads the leases only when the
-- hint says one may have ended, and moves the hint to the earliest lease left (to the keys'
-- end when none is). Returns whether the account changed.
local function lapse(leases, a, now, most, keep)
  if a.lapseAt ~= nil and now < a.lapseAt then return false end
  local first = redis.call('ZRANGE', leases, '0', tostring(most), 'WITHSCORES')
  local released = 0
  for j = 1, #first, 2 do
    local score = tonumber(first[j + 1])
    if score > now or released == most then
      lapseHint(a, score)
      return true
    end
    local pico, tokens = leaseAmounts(first[j])
    setAmount(a, 2, sub(a.reservedPico, pico))
    setAmount(a, 4, sub(a.reservedTokens, tokens))
    redis.call('ZREM', leases, first[j])
    released = released + 1
  end
  lapseHint(a, tonumber(keep), keep)
  return true
end

local function accountReply(state, a)
  return { state, amountString(a, 1), amountString(a, 2), amountString(a, 3), amountString(a, 4) }
end

-- Lapsed leases released per account per call, at most: bounds the script's time.
local LAPSES_PER_CALL = 64

-- The call's worst case, read once per script call (budgetCheck, then budgetHold).
local worstPico, worstTokens

-- admit.lua's budget part: KEYS from `k` on are each account's hash and leases; ARGV from `g`
-- on are the count of accounts, the reservation id, its lease (ms), the call's worst case
-- (pico, tokens), whether a limit's refusal leaves the budgets to decide alone ('1': the
-- limiter is in Shadow), then per account its limit in pico and in tokens ('' for none), the
-- epoch ms its keys are kept until, and whether going over refuses ('1') or is only counted.
-- Reads every account (releasing lapsed leases) and says which fit: state 0 fits, 1 over but
-- only counted (Shadow), 2 over and refusing. Returns the accounts and the first that refuses.
local function budgetCheck(k, g, now)
  local n = tonumber(ARGV[g])
  worstPico, worstTokens = big(ARGV[g + 3]), big(ARGV[g + 4])
  local accounts, refused = {}, 0
  for i = 1, n do
    local key, leases = KEYS[k + 2 * i - 2], KEYS[k + 2 * i - 1]
    local base = g + 6 + (i - 1) * 4
    local a = readAccount(key)
    if lapse(leases, a, now, LAPSES_PER_CALL, ARGV[base + 2]) then writeAccount(key, a, ARGV[base + 2]) end
    local over = false
    if ARGV[base] ~= '' and not le(add(add(a.spentPico, a.reservedPico), worstPico), big(ARGV[base])) then
      over = true
    end
    if ARGV[base + 1] ~= '' and not le(add(add(a.spentTokens, a.reservedTokens), worstTokens), big(ARGV[base + 1])) then
      over = true
    end
    local state = 0
    if over then
      if ARGV[base + 3] == '1' then state = 2 else state = 1 end
    end
    if state == 2 and refused == 0 then refused = i end
    accounts[i] = { key = key, leases = leases, a = a, state = state, keep = ARGV[base + 2] }
  end
  return accounts, refused
end

-- Holds the call's worst case in every account, under a lease that ends `lease ms` from now.
local function budgetHold(accounts, g, now)
  local member = ARGV[g + 1] .. ':' .. ARGV[g + 3] .. ':' .. ARGV[g + 4]
  local endsAt = now + tonumber(ARGV[g + 2])
  local ends = string.format('%.3f', endsAt)
  for _, acc in ipairs(accounts) do
    local a = acc.a
    setAmount(a, 2, add(a.reservedPico, worstPico))
    setAmount(a, 4, add(a.reservedTokens, worstTokens))
    if endsAt < a.lapseAt then lapseHint(a, endsAt) end
    writeAccount(acc.key, a, acc.keep)
    redis.call('ZADD', acc.leases, ends, member)
    redis.call('PEXPIREAT', acc.leases, acc.keep)
  end
end

-- admit.lua's answer with budgets: the limits' three numbers, whether the budgets were held,
-- the first account that refused (1-based, 0 none), then five values per account.
local function budgetReply(wait, reason, charged, held, refused, accounts)
  local reply = { wait, reason, charged, held, refused }
  for _, acc in ipairs(accounts) do
    for _, v in ipairs(accountReply(acc.state, acc.a)) do reply[#reply + 1] = v end
  end
  return reply
end

-- One settlement: KEYS from `k` on as in admit; ARGV from `g` on the count of accounts, the
-- reservation id, its worst case (pico, tokens), what the call really cost (pico, tokens),
-- then per account the epoch ms its keys are kept until. Charges the cost to every account
-- and releases the worst case where the lease still holds it (a lapsed one was released
-- already: the cost is charged all the same). Returns the accounts released.
local function budgetSettle(k, g)
  local n = tonumber(ARGV[g])
  local member = ARGV[g + 1] .. ':' .. ARGV[g + 2] .. ':' .. ARGV[g + 3]
  local costPico, costTokens = big(ARGV[g + 4]), big(ARGV[g + 5])
  local released = 0
  for i = 1, n do
    local key, leases = KEYS[k + 2 * i - 2], KEYS[k + 2 * i - 1]
    local keep = ARGV[g + 5 + i]
    local a = readAccount(key)
    if costPico[1] ~= 0 or costPico[2] ~= 0 then setAmount(a, 1, add(a.spentPico, costPico)) end
    if costTokens[1] ~= 0 or costTokens[2] ~= 0 then setAmount(a, 3, add(a.spentTokens, costTokens)) end
    if redis.call('ZREM', leases, member) == 1 then
      setAmount(a, 2, sub(a.reservedPico, big(ARGV[g + 2])))
      setAmount(a, 4, sub(a.reservedTokens, big(ARGV[g + 3])))
      released = released + 1
    end
    if a.changed then writeAccount(key, a, keep) end
  end
  return released
end

-- Settlements, in settle.lua or riding in front of an admission in admit.lua: ARGV[g] their
-- count, then each settlement's arguments (budgetSettle) in turn, its accounts' KEYS from `k`
-- on in the same order. Returns the accounts released and the KEYS index after the last.
local function budgetSettleAll(k, g)
  local m = tonumber(ARGV[g] or '0')
  local released = 0
  g = g + 1
  for _ = 1, m do
    local n = tonumber(ARGV[g])
    released = released + budgetSettle(k, g)
    k, g = k + 2 * n, g + 6 + n
  end
  return released, k
end

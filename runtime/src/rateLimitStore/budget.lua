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

-- Accounts are read once per script call and written back once, at its end (budgetFlush): a
-- settlement riding in front of an admission, the admission's lapse and its hold all touch the
-- same account, and reading and writing it each time cost six more commands per call.
local cached, dirty, keepOf = {}, {}, {}

local function readAccount(key)
  local a = cached[key]
  if a ~= nil then return a end
  local v = redis.call('HMGET', key, FIELDS[1], FIELDS[2], FIELDS[3], FIELDS[4])
  a = { spentPico = big(v[1]), reservedPico = big(v[2]), spentTokens = big(v[3]), reservedTokens = big(v[4]) }
  cached[key] = a
  return a
end

local function writeAccount(key, a, keepUntil)
  cached[key] = a
  if keepOf[key] == nil then dirty[#dirty + 1] = key end
  keepOf[key] = keepUntil
end

-- Writes every account this call changed, in the order first changed; then `reply`. Every
-- return of admit.lua and settle.lua goes through it.
local function budgetFlush(reply)
  for _, key in ipairs(dirty) do
    local a = cached[key]
    redis.call('HSET', key, FIELDS[1], str(a.spentPico), FIELDS[2], str(a.reservedPico),
      FIELDS[3], str(a.spentTokens), FIELDS[4], str(a.reservedTokens))
    redis.call('PEXPIREAT', key, keepOf[key])
  end
  dirty, keepOf = {}, {}
  return reply
end

-- The worst case a lease member holds: "<id>:<pico>:<tokens>".
local function leaseAmounts(member)
  local pico, tokens = string.match(member, ':(%d+):(%d+)$')
  return big(pico), big(tokens)
end

-- Releases reservations whose lease ended before `now` (a replica that died mid-call), at most
-- `most` per account per call; the rest go on the next calls. Returns whether any went.
local function lapse(key, leases, a, now, most)
  local ended = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, most)
  for _, member in ipairs(ended) do
    local pico, tokens = leaseAmounts(member)
    a.reservedPico = sub(a.reservedPico, pico)
    a.reservedTokens = sub(a.reservedTokens, tokens)
    redis.call('ZREM', leases, member)
  end
  return #ended > 0
end

local function accountReply(state, a)
  return { state, str(a.spentPico), str(a.reservedPico), str(a.spentTokens), str(a.reservedTokens) }
end

-- Lapsed leases released per account per call, at most: bounds the script's time.
local LAPSES_PER_CALL = 64

-- admit.lua's budget part: KEYS from `k` on are each account's hash and leases; ARGV from `g`
-- on are the count of accounts, the reservation id, its lease (ms), the call's worst case
-- (pico, tokens), whether a limit's refusal leaves the budgets to decide alone ('1': the
-- limiter is in Shadow), then per account its limit in pico and in tokens ('' for none), the
-- epoch ms its keys are kept until, and whether going over refuses ('1') or is only counted.
-- Reads every account (releasing lapsed leases) and says which fit: state 0 fits, 1 over but
-- only counted (Shadow), 2 over and refusing. Returns the accounts and the first that refuses.
local function budgetCheck(k, g, now)
  local n = tonumber(ARGV[g])
  local worstPico, worstTokens = big(ARGV[g + 3]), big(ARGV[g + 4])
  local accounts, refused = {}, 0
  for i = 1, n do
    local key, leases = KEYS[k + 2 * i - 2], KEYS[k + 2 * i - 1]
    local base = g + 6 + (i - 1) * 4
    local a = readAccount(key)
    if lapse(key, leases, a, now, LAPSES_PER_CALL) then writeAccount(key, a, ARGV[base + 2]) end
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
  local worstPico, worstTokens = big(ARGV[g + 3]), big(ARGV[g + 4])
  local member = ARGV[g + 1] .. ':' .. ARGV[g + 3] .. ':' .. ARGV[g + 4]
  local ends = string.format('%.3f', now + tonumber(ARGV[g + 2]))
  for _, acc in ipairs(accounts) do
    local a = acc.a
    a.reservedPico = add(a.reservedPico, worstPico)
    a.reservedTokens = add(a.reservedTokens, worstTokens)
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
  local worstPico, worstTokens = big(ARGV[g + 2]), big(ARGV[g + 3])
  local costPico, costTokens = big(ARGV[g + 4]), big(ARGV[g + 5])
  local released = 0
  for i = 1, n do
    local key, leases = KEYS[k + 2 * i - 2], KEYS[k + 2 * i - 1]
    local keep = ARGV[g + 5 + i]
    local a = readAccount(key)
    a.spentPico = add(a.spentPico, costPico)
    a.spentTokens = add(a.spentTokens, costTokens)
    if redis.call('ZREM', leases, member) == 1 then
      a.reservedPico = sub(a.reservedPico, worstPico)
      a.reservedTokens = sub(a.reservedTokens, worstTokens)
      released = released + 1
    end
    writeAccount(key, a, keep)
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

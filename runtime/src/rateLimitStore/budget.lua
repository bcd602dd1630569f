-- Budgets in the store (RateLimitPolicy spec.budgets with spec.store): prepended to admit.lua
-- and settle.lua (luaScripts.ts), so that one script call decides a call's rate limits and every
-- budget it must fit together, all or nothing.
--
-- An account is one budget in one calendar period, for the whole agent or one client key: the
-- hash <prefix>:budget:<agent>:<budget>:<periodStartMs>[:<key fingerprint>], with
--   spent_micro, spent_pico, reserved_micro, reserved_pico   money, below
--   spent_tokens, reserved_tokens
--   lease:<reservation id>   one per reservation still held: "<ends ms>:<worst micro>:<worst
--                            pico>:<worst tokens>", its lease ending at the epoch ms
--   lapsed:<reservation id>  one per reservation whose lease lapsed unsettled: its worst case
--                            was charged (spent), until its settlement, if one comes, puts
--                            the call's cost in its place and takes the field out
--   lapse_at                 epoch ms before which no lease ends (a lower bound: a lease settled
--                            early leaves it where it was); absent, the leases are swept
--   keep_until               the epoch ms the hash's PEXPIREAT was last set to (not set again)
-- kept until the period's end plus seven days (PEXPIREAT, the caller's number). One key, so a
-- call reads it once (HMGET) and writes it once (HSET): its lease goes in the same write, and
-- its settlement takes the lease out with one HDEL. Each command a script runs costs about as
-- much as the rest of the budget's work together.
--
-- Time: which period an account belongs to is the caller's (its clock picks the key, in the
-- policy's time zone); leases are the server's (TIME), like the rate limits, so replicas whose
-- clocks disagree never release each other's reservations early.
--
-- Money is exact: Lua 5.1 numbers are doubles, exact only to 2^53 (9,007 dollars in
-- picodollars), so an amount of money is two whole numbers, microdollars and the picodollars
-- past them (0 to 999,999): the largest budget, $999,999.999999, is 999,999,999,999 micro, far
-- inside a double's exact range. Both halves travel as whole numbers (ARGV, the hash, the
-- reply), read with tonumber: no decimal is parsed in Lua, and only what changed is formatted.

local MICRO = 1000000
local format = string.format

-- An account in Lua: { spent micro, spent pico, reserved micro, reserved pico, spent tokens,
-- reserved tokens, was = the six as read, lapseAt = …, keptUntil = … }; FIELDS name the six.
local FIELDS = { 'spent_micro', 'spent_pico', 'reserved_micro', 'reserved_pico', 'spent_tokens', 'reserved_tokens' }

-- Adds micro + pico to the money at `i` (1 spent, 3 reserved).
local function addMoney(a, i, micro, pico)
  local m, p = a[i] + micro, a[i + 1] + pico
  if p >= MICRO then m, p = m + 1, p - MICRO end
  a[i], a[i + 1] = m, p
end

-- Takes micro + pico from the money at `i`, never below zero (a reservation released twice
-- cannot make money).
local function takeMoney(a, i, micro, pico)
  local m, p = a[i] - micro, a[i + 1] - pico
  if p < 0 then m, p = m - 1, p + MICRO end
  if m < 0 then m, p = 0, 0 end
  a[i], a[i + 1] = m, p
end

local function takeTokens(a, tokens)
  local t = a[6] - tokens
  if t < 0 then t = 0 end
  a[6] = t
end

-- Whether spent + reserved + micro/pico fits under limitMicro/limitPico.
local function moneyFits(a, micro, pico, limitMicro, limitPico)
  local p = a[2] + a[4] + pico
  local m = a[1] + a[3] + micro + math.floor(p / MICRO)
  return m < limitMicro or (m == limitMicro and p % MICRO <= limitPico)
end

-- Accounts are read once per script call and written back once, at its end (budgetFlush): a
-- settlement riding in front of an admission, the admission's lapse and its hold all touch the
-- same account.
local cached, dirty = {}, {}

local function readAccount(key)
  local a = cached[key]
  if a ~= nil then return a end
  local v = redis.call('HMGET', key, FIELDS[1], FIELDS[2], FIELDS[3], FIELDS[4], FIELDS[5], FIELDS[6],
    'lapse_at', 'keep_until')
  -- A field not there yet is false: tonumber makes it nil, and the amount 0.
  local s1, s2, s3 = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
  local s4, s5, s6 = tonumber(v[4]) or 0, tonumber(v[5]) or 0, tonumber(v[6]) or 0
  a = { s1, s2, s3, s4, s5, s6, was = { s1, s2, s3, s4, s5, s6 }, lapseAt = tonumber(v[7]), keptUntil = v[8] }
  cached[key] = a
  return a
end

-- `a` may have changed: budgetFlush writes it, with `lease` (field, value) when one is held.
local function writeAccount(key, a, keep, lease, leaseValue)
  if a.keep == nil then dirty[#dirty + 1] = key end
  a.keep = keep
  if lease ~= nil then a.lease, a.leaseValue = lease, leaseValue end
end

-- Writes what changed in every account this call touched, in the order first touched; then
-- `reply`. Every return of admit.lua and settle.lua goes through it.
local function budgetFlush(reply)
  for _, key in ipairs(dirty) do
    local a = cached[key]
    local was, keep, args = a.was, a.keep, { key }
    -- A new account (or period) writes every amount, so that its hash always holds all six.
    local expire = a.keptUntil ~= keep
    for i = 1, 6 do
      if expire or a[i] ~= was[i] then
        args[#args + 1] = FIELDS[i]
        args[#args + 1] = format('%d', a[i])
        was[i] = a[i]
      end
    end
    if a.lease ~= nil then
      args[#args + 1] = a.lease
      args[#args + 1] = a.leaseValue
      a.lease, a.leaseValue = nil, nil
    end
    if a.lapseChanged then
      args[#args + 1] = 'lapse_at'
      args[#args + 1] = format('%d', math.floor(a.lapseAt))
      a.lapseChanged = nil
    end
    if expire then
      args[#args + 1] = 'keep_until'
      args[#args + 1] = keep
    end
    if #args > 1 then redis.call('HSET', unpack(args)) end
    if expire then
      redis.call('PEXPIREAT', key, keep)
      a.keptUntil = keep
    end
    a.keep = nil
  end
  dirty = {}
  return reply
end

-- A new lower bound for the account's lease ends (budgetFlush writes it).
local function lapseHint(a, at)
  a.lapseAt = at
  a.lapseChanged = true
end

-- Charges and releases reservations whose lease ended before `now` (a replica that died
-- mid-call, or was cut off), at most `most` per account per call; the rest go on the next
-- calls. A lapsed reservation's worst case moves from reserved to spent: the provider may have
-- billed its call in full. A `lapsed:` field remembers it, so that a settlement that still
-- comes corrects the charge to the cost, once. Reads the leases (HGETALL) only when the hint
-- says one may have ended, and moves the hint to the earliest lease left (to the keys' end
-- when none is). Returns whether the account changed.
local function lapse(key, a, now, most, keep)
  if a.lapseAt ~= nil and now < a.lapseAt then return false end
  -- No hash yet: no lease to release, and nothing to write unless the call is held (a refused
  -- call leaves no account behind).
  if not a.keptUntil then
    a.lapseAt = tonumber(keep)
    return false
  end
  local all = redis.call('HGETALL', key)
  local gone, charged, hint = {}, {}, tonumber(keep)
  for j = 1, #all, 2 do
    local ends, micro, pico, tokens
    if string.sub(all[j], 1, 6) == 'lease:' then
      ends, micro, pico, tokens = string.match(all[j + 1], '^(%d+):(%d+):(%d+):(%d+)$')
    end
    if ends ~= nil then
      ends = tonumber(ends)
      if ends > now or #gone == most then
        if ends < hint then hint = ends end
      else
        micro, pico, tokens = tonumber(micro), tonumber(pico), tonumber(tokens)
        takeMoney(a, 3, micro, pico)
        takeTokens(a, tokens)
        addMoney(a, 1, micro, pico)
        a[5] = a[5] + tokens
        gone[#gone + 1] = all[j]
        charged[#charged + 1] = 'lapsed:' .. string.sub(all[j], 7)
        charged[#charged + 1] = '1'
      end
    end
  end
  if #gone > 0 then
    redis.call('HDEL', key, unpack(gone))
    redis.call('HSET', key, unpack(charged))
  end
  lapseHint(a, hint)
  return true
end

-- Lapsed leases released per account per call, at most: bounds the script's time.
local LAPSES_PER_CALL = 64

-- The call's worst case, read once per script call (budgetCheck, then budgetHold).
local worstMicro, worstPico, worstTokens

-- admit.lua's budget part: KEYS from `k` on are the accounts; ARGV from `g` on are the count
-- of accounts, the reservation id, its lease (ms), the call's worst case (micro, pico,
-- tokens), whether a limit's refusal leaves the budgets to decide alone ('1': the limiter is
-- in Shadow), then per account its limit (micro, pico, tokens; '' for none), the epoch ms its
-- key is kept until, and whether going over refuses ('1') or is only counted. Reads every
-- account (releasing lapsed leases) and says which fit: state 0 fits, 1 over but only counted
-- (Shadow), 2 over and refusing. Returns the accounts and the first that refuses.
local function budgetCheck(k, g, now)
  local n = tonumber(ARGV[g])
  worstMicro, worstPico, worstTokens = tonumber(ARGV[g + 3]), tonumber(ARGV[g + 4]), tonumber(ARGV[g + 5])
  local accounts, refused = {}, 0
  for i = 1, n do
    local key = KEYS[k + i - 1]
    local base = g + 7 + (i - 1) * 5
    local keep = ARGV[base + 3]
    local a = readAccount(key)
    if lapse(key, a, now, LAPSES_PER_CALL, keep) then writeAccount(key, a, keep) end
    local over = false
    if ARGV[base] ~= '' and not moneyFits(a, worstMicro, worstPico, tonumber(ARGV[base]), tonumber(ARGV[base + 1])) then
      over = true
    end
    if ARGV[base + 2] ~= '' and a[5] + a[6] + worstTokens > tonumber(ARGV[base + 2]) then
      over = true
    end
    local state = 0
    if over then
      if ARGV[base + 4] == '1' then state = 2 else state = 1 end
    end
    if state == 2 and refused == 0 then refused = i end
    accounts[i] = { key = key, a = a, state = state, keep = keep }
  end
  return accounts, refused
end

-- Holds the call's worst case in every account, under a lease that ends `lease ms` from now.
local function budgetHold(accounts, g, now)
  local endsAt = math.ceil(now + tonumber(ARGV[g + 2]))
  local field = 'lease:' .. ARGV[g + 1]
  local value = format('%d', endsAt) .. ':' .. ARGV[g + 3] .. ':' .. ARGV[g + 4] .. ':' .. ARGV[g + 5]
  for _, acc in ipairs(accounts) do
    local a = acc.a
    addMoney(a, 3, worstMicro, worstPico)
    a[6] = a[6] + worstTokens
    if endsAt < a.lapseAt then lapseHint(a, endsAt) end
    writeAccount(acc.key, a, acc.keep, field, value)
  end
end

-- The call most calls are: one account, no settlement riding in front, no lease due to lapse
-- and the account's period already kept. It is decided in one read and one write, without the
-- bookkeeping that merges several accounts' and settlements' writes (readAccount, budgetFlush):
-- that bookkeeping cost a call as much time inside Redis as its two commands. Answers and
-- writes exactly what budgetCheck and budgetHold would (budgetScripts tests run both ways).
-- KEYS[k] the account, ARGV from `g` on as in budgetCheck; `go` whether the limits let the
-- call go. Returns nil, having written nothing, when the call is not such a call; else the
-- account's state (as budgetCheck's), whether it was held, and its six amounts.
local function budgetAdmitOne(k, g, now, go)
  local key = KEYS[k]
  local v = redis.call('HMGET', key, FIELDS[1], FIELDS[2], FIELDS[3], FIELDS[4], FIELDS[5], FIELDS[6],
    'lapse_at', 'keep_until')
  local lapseAt, base = tonumber(v[7]), g + 7
  if lapseAt == nil or now >= lapseAt or v[8] ~= ARGV[base + 3] then return nil end
  local sm, sp, rm, rp = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
  local st, rt = tonumber(v[5]) or 0, tonumber(v[6]) or 0
  local wm, wp, wt = tonumber(ARGV[g + 3]), tonumber(ARGV[g + 4]), tonumber(ARGV[g + 5])
  local over = false
  if ARGV[base] ~= '' then
    local p = sp + rp + wp
    local m, limit = sm + rm + wm + math.floor(p / MICRO), tonumber(ARGV[base])
    over = not (m < limit or (m == limit and p % MICRO <= tonumber(ARGV[base + 1])))
  end
  if ARGV[base + 2] ~= '' and st + rt + wt > tonumber(ARGV[base + 2]) then over = true end
  local state = 0
  if over then
    if ARGV[base + 4] == '1' then state = 2 else state = 1 end
  end
  if state == 2 or not (go or ARGV[g + 6] == '1') then return { state, 0, sm, sp, rm, rp, st, rt } end
  rm, rp, rt = rm + wm, rp + wp, rt + wt
  if rp >= MICRO then rm, rp = rm + 1, rp - MICRO end
  local endsAt = math.ceil(now + tonumber(ARGV[g + 2]))
  local lease = format('%d', endsAt) .. ':' .. ARGV[g + 3] .. ':' .. ARGV[g + 4] .. ':' .. ARGV[g + 5]
  if endsAt < lapseAt then
    redis.call('HSET', key, FIELDS[3], format('%d', rm), FIELDS[4], format('%d', rp), FIELDS[6], format('%d', rt),
      'lease:' .. ARGV[g + 1], lease, 'lapse_at', format('%d', endsAt))
  else
    redis.call('HSET', key, FIELDS[3], format('%d', rm), FIELDS[4], format('%d', rp), FIELDS[6], format('%d', rt),
      'lease:' .. ARGV[g + 1], lease)
  end
  return { state, 1, sm, sp, rm, rp, st, rt }
end

-- admit.lua's answer with budgets: the limits' three numbers, whether the budgets were held,
-- the first account that refused (1-based, 0 none), then seven numbers per account: its state
-- and its six amounts.
local function budgetReply(wait, reason, charged, held, refused, accounts)
  local reply = { wait, reason, charged, held, refused }
  local at = 5
  for _, acc in ipairs(accounts) do
    local a = acc.a
    reply[at + 1], reply[at + 2], reply[at + 3], reply[at + 4] = acc.state, a[1], a[2], a[3]
    reply[at + 5], reply[at + 6], reply[at + 7] = a[4], a[5], a[6]
    at = at + 7
  end
  return reply
end

-- One settlement: ARGV from `g` on the count of accounts `n`, the reservation id, its worst
-- case (micro, pico, tokens), what the call really cost (micro, pico, tokens), then per account
-- its hash's place in KEYS and the epoch ms its key is kept until, then the place in KEYS of
-- its `settled` marker. A key is named by its place so that a settlement riding in front of
-- an admission of the same accounts does not send their keys again (KEYS lists each once).
-- Charges the cost to every account and releases the worst case where the lease still holds
-- it. Where the lease lapsed (`lapse` charged the worst case) the worst case is taken from
-- spent instead, once: the call counts at its cost. Where the store never held it (decided on
-- a replica's share) the cost is charged all the same. Returns the accounts released.
--
-- Once: the marker keeps that answer for SETTLED_KEPT_MS, and a settlement that finds it
-- (sent again after its answer was lost) changes nothing and answers the same. The runtime
-- sends a settlement again within half that time or never (unsentSettlements.ts): one key per
-- call, kept an hour, costs a store at 100 calls a second about 60 MB, where keeping it as long
-- as its accounts (a month's budget) would cost gigabytes.
local SETTLED_KEPT_MS = 3600000
local function budgetSettle(g)
  local n = tonumber(ARGV[g])
  local marker = KEYS[tonumber(ARGV[g + 8 + 2 * n])]
  local done = redis.call('GET', marker)
  if done then return tonumber(done) end
  local lease = 'lease:' .. ARGV[g + 1]
  local costMicro, costPico, costTokens = tonumber(ARGV[g + 5]), tonumber(ARGV[g + 6]), tonumber(ARGV[g + 7])
  local released = 0
  for i = 1, n do
    local key = KEYS[tonumber(ARGV[g + 6 + 2 * i])]
    local a = readAccount(key)
    local changed = costMicro ~= 0 or costPico ~= 0 or costTokens ~= 0
    addMoney(a, 1, costMicro, costPico)
    a[5] = a[5] + costTokens
    if redis.call('HDEL', key, lease) == 1 then
      takeMoney(a, 3, tonumber(ARGV[g + 2]), tonumber(ARGV[g + 3]))
      takeTokens(a, tonumber(ARGV[g + 4]))
      released = released + 1
      changed = true
    elseif redis.call('HDEL', key, 'lapsed:' .. ARGV[g + 1]) == 1 then
      takeMoney(a, 1, tonumber(ARGV[g + 2]), tonumber(ARGV[g + 3]))
      local t = a[5] - tonumber(ARGV[g + 4])
      if t < 0 then t = 0 end
      a[5] = t
      changed = true
    end
    if changed then writeAccount(key, a, ARGV[g + 7 + 2 * i]) end
  end
  redis.call('SET', marker, released, 'PX', SETTLED_KEPT_MS)
  return released
end

-- Settlements, in settle.lua or riding in front of an admission in admit.lua: ARGV[g] their
-- count, then each settlement's arguments (budgetSettle) in turn. Returns the accounts
-- released.
local function budgetSettleAll(g)
  local m = tonumber(ARGV[g] or '0')
  local released = 0
  g = g + 1
  for _ = 1, m do
    local n = tonumber(ARGV[g])
    released = released + budgetSettle(g)
    g = g + 9 + 2 * n
  end
  return released
end

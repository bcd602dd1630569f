-- Runs the rate-limit store's scripts under a plain Lua 5.1 interpreter (the language Redis
-- embeds) against a stand-in for the `redis` object with a clock the test sets, so their
-- arithmetic is tested without waiting for time to pass.
--
-- usage: lua5.1 scriptRunner.lua <scripts dir> <steps file> [general]
-- With `general`, admit.lua never takes budget.lua's path for the common call (budgetAdmitOne):
-- every call goes the general way, which must answer and write the same.
-- The steps file returns a list of {at = ms, script = name, keys = {...}, argv = {...}},
-- {at = ms, live = true} (prints how many keys have not expired) or {at = ms, hash = key}
-- (prints a hash's fields, sorted). One line per step. admit and settle run with budget.lua
-- in front of them, as luaScripts.ts loads them.
local dir, stepsFile, general = arg[1], arg[2], arg[3] == 'general'
local now = 0
local data, expires = {}, {}

local function ttl(key, at)
  at = tonumber(at)
  assert(at ~= nil and at == math.floor(at), 'PEXPIREAT needs a whole epoch ms')
  if data[key] ~= nil then expires[key] = at end
end

local function live(key)
  if expires[key] ~= nil and expires[key] <= now then
    data[key], expires[key] = nil, nil
  end
  return data[key]
end

-- A script's argument as Redis reads it: a number as %.17g (Lua's own tostring keeps 14 digits).
local function redisString(value)
  if type(value) == 'number' then return string.format('%.17g', value) end
  assert(type(value) == 'string', 'a command argument must be a string or a number: ' .. tostring(value))
  return value
end

redis = {
  call = function(command, ...)
    local a = { ... }
    command = string.upper(command)
    if command == 'TIME' then
      local seconds = math.floor(now / 1000)
      return { tostring(seconds), tostring(math.floor((now - seconds * 1000) * 1000)) }
    elseif command == 'GET' then
      local value = live(a[1])
      if value == nil then return false end -- what Redis hands a script for a missing key
      return value
    elseif command == 'SET' then
      assert(type(a[2]) == 'string' or type(a[2]) == 'number', 'SET needs a string or number')
      data[a[1]], expires[a[1]] = tostring(a[2]), nil
      if a[3] == 'PX' then
        local ttl = tonumber(a[4])
        assert(ttl ~= nil and ttl >= 1 and ttl == math.floor(ttl), 'PX needs a whole positive ttl')
        expires[a[1]] = now + ttl
      elseif a[3] == 'PXAT' then
        ttl(a[1], a[4])
        live(a[1])
      end
      return { ok = 'OK' }
    elseif command == 'HMGET' then
      local hash = live(a[1]) or {}
      local out = {}
      for i = 2, #a do out[i - 1] = hash[a[i]] or false end
      return out
    elseif command == 'HSET' then
      local hash = live(a[1]) or {}
      assert(#a % 2 == 1, 'HSET needs field value pairs')
      for i = 2, #a, 2 do
        hash[a[i]] = redisString(a[i + 1])
      end
      data[a[1]] = hash
      return (#a - 1) / 2
    elseif command == 'PEXPIREAT' then
      ttl(a[1], a[2])
      if data[a[1]] ~= nil and expires[a[1]] <= now then data[a[1]], expires[a[1]] = nil, nil end
      return 1
    elseif command == 'HGETALL' then
      local hash, fields, out = live(a[1]) or {}, {}, {}
      for field in pairs(hash) do fields[#fields + 1] = field end
      table.sort(fields)
      for _, field in ipairs(fields) do
        out[#out + 1] = field
        out[#out + 1] = hash[field]
      end
      return out
    elseif command == 'HDEL' then
      local hash, n = live(a[1]), 0
      if hash == nil then return 0 end
      for i = 2, #a do
        if hash[a[i]] ~= nil then hash[a[i]], n = nil, n + 1 end
      end
      if next(hash) == nil then data[a[1]], expires[a[1]] = nil, nil end
      return n
    elseif command == 'DEL' then
      local existed = live(a[1]) ~= nil and 1 or 0
      data[a[1]], expires[a[1]] = nil, nil
      return existed
    end
    error('the stand-in redis has no ' .. command)
  end,
}

local function encode(value)
  if type(value) == 'table' then
    local parts = {}
    for i, v in ipairs(value) do parts[i] = encode(v) end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  -- Strings stay strings, as Redis hands them to a client; a number becomes an integer.
  if type(value) == 'string' then return '"' .. value .. '"' end
  return string.format('%d', value)
end

local function source(name)
  local file = assert(io.open(dir .. '/' .. name .. '.lua'))
  local text = file:read('*a')
  file:close()
  return text
end

local function load(name)
  local text = source(name)
  if name == 'admit' and general then
    local replaced
    text, replaced = string.gsub(text, 'local one = budgets == 1 and', 'local one = false and')
    assert(replaced == 1, 'admit.lua no longer chooses budgetAdmitOne where the runner expects it')
  end
  if name == 'admit' or name == 'settle' then text = source('budget') .. '\n' .. text end
  return assert(loadstring(text, name))
end

local scripts = {}
for _, step in ipairs(dofile(stepsFile)) do
  now = step.at
  if step.hash then
    local hash, fields = live(step.hash) or {}, {}
    for field, value in pairs(hash) do fields[#fields + 1] = '"' .. field .. '":"' .. tostring(value) .. '"' end
    table.sort(fields)
    print('{' .. table.concat(fields, ',') .. '}')
  elseif step.live then
    local n = 0
    for key in pairs(data) do
      if live(key) ~= nil then n = n + 1 end
    end
    print(n)
  else
    scripts[step.script] = scripts[step.script] or load(step.script)
    KEYS, ARGV = step.keys, step.argv
    print(encode(scripts[step.script]()))
  end
end

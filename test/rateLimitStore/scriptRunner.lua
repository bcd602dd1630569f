-- Runs the rate-limit store's scripts under a plain Lua 5.1 interpreter (the language Redis
-- embeds) against a stand-in for the `redis` object with a clock the test sets, so their
-- arithmetic is tested without waiting for time to pass.
--
-- usage: lua5.1 scriptRunner.lua <scripts dir> <steps file>
-- The steps file returns a list of {at = ms, script = name, keys = {...}, argv = {...}} or
-- {at = ms, live = true} (prints how many keys have not expired). One line per step.
local dir, stepsFile = arg[1], arg[2]
local now = 0
local data, expires = {}, {}

local function live(key)
  if expires[key] ~= nil and expires[key] <= now then
    data[key], expires[key] = nil, nil
  end
  return data[key]
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
      end
      return { ok = 'OK' }
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
  return tostring(value)
end

local scripts = {}
for _, step in ipairs(dofile(stepsFile)) do
  now = step.at
  if step.live then
    local n = 0
    for key in pairs(data) do
      if live(key) ~= nil then n = n + 1 end
    end
    print(n)
  else
    scripts[step.script] = scripts[step.script] or assert(loadfile(dir .. '/' .. step.script .. '.lua'))
    KEYS, ARGV = step.keys, step.argv
    print(encode(scripts[step.script]()))
  end
end

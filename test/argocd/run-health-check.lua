-- Runs an Argo CD resource health script against test objects, as Argo CD does: the script
-- is a chunk that reads the global `obj` and returns `hs` ({status, message}). Each case gets
-- a fresh environment holding only `obj` and the libraries a health script may rely on
-- (base functions without loaders, string, table, math, coroutine), so a script that reaches
-- for io, os or require fails here as it would in Argo CD.
--
--   lua5.1 run-health-check.lua HEALTH_LUA < CASES
--
-- CASES is a Lua chunk returning { {name = "...", obj = {...}}, ... } (health.test.ts writes it
-- from health_test.yaml and the testdata YAML). One JSON line per case goes to stdout:
-- {"name":...,"status":...,"message":...} or {"name":...,"error":...}.

local script_path = arg[1]
if script_path == nil then
  io.stderr:write("usage: lua5.1 run-health-check.lua HEALTH_LUA < CASES\n")
  os.exit(2)
end

local script, load_error = loadfile(script_path)
if script == nil then
  io.stderr:write(load_error .. "\n")
  os.exit(1)
end
local cases_chunk, cases_error = loadstring(io.read("*a"), "=cases")
if cases_chunk == nil then
  io.stderr:write(cases_error .. "\n")
  os.exit(1)
end
local cases = cases_chunk()

local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end

local BASE = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
  "type", "unpack", "xpcall",
}

local function sandbox(obj)
  local env = { obj = obj }
  for _, name in ipairs(BASE) do env[name] = _G[name] end
  env.string = copy(string)
  env.table = copy(table)
  env.math = copy(math)
  env.coroutine = copy(coroutine)
  env._G = env
  return env
end

local function json_string(s)
  s = tostring(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. s .. '"'
end

for _, case in ipairs(cases) do
  setfenv(script, sandbox(case.obj))
  local ok, hs = pcall(script)
  local fields = { '"name":' .. json_string(case.name) }
  if not ok then
    table.insert(fields, '"error":' .. json_string(hs))
  elseif type(hs) ~= "table" then
    table.insert(fields, '"error":' .. json_string("the script returned " .. type(hs) .. ", not a table"))
  else
    if hs.status ~= nil then table.insert(fields, '"status":' .. json_string(hs.status)) end
    if hs.message ~= nil then table.insert(fields, '"message":' .. json_string(hs.message)) end
  end
  io.write("{" .. table.concat(fields, ",") .. "}\n")
end

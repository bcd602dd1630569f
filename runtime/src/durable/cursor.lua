-- A run's cursor (prepended to claim.lua, append.lua and complete.lua): the next step of its
-- current attempt, and which attempt that is — `<position>|<attempt>`. A cursor written before
-- every call named its attempt is `<position>` alone: read as attempt '', which no call names,
-- so the next call begins an attempt of its own.
-- Returns the position (0 without a cursor) and the attempt ('' when it holds none).
local function cursorOf(held)
  if not held then
    return 0, ''
  end
  local bar = string.find(held, '|', 1, true)
  if not bar then
    return tonumber(held) or 0, ''
  end
  return tonumber(string.sub(held, 1, bar - 1)) or 0, string.sub(held, bar + 1)
end

local function cursorText(position, attempt)
  return tostring(position) .. '|' .. attempt
end

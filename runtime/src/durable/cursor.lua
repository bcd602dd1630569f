-- A run's cursor (prepended to claim.lua, append.lua and complete.lua): the next step of its
-- current attempt, and which attempt that is — `<position>|<attempt>`, or `<position>` alone
-- for an attempt that named none (a team's own agent without Breakwater-Run-Attempt).
-- Returns the position (0 without a cursor) and the attempt ('' when none was named).
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
  if attempt == '' then
    return tostring(position)
  end
  return tostring(position) .. '|' .. attempt
end

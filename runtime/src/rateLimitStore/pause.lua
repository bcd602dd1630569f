-- The provider asked for a pause (retry-after, or a limit spent until its reset): hold every
-- replica's calls until then. Only ever moves the pause later.
--
-- KEYS[1] the pause (epoch ms).  ARGV[1] its length from now, in ms.
-- Returns the pause's end (epoch ms, whole).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local ms = tonumber(ARGV[1])
local untilMs = now + ms
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= untilMs then return math.ceil(current) end
redis.call('SET', KEYS[1], string.format('%.3f', untilMs), 'PX', math.ceil(ms) + 1)
return math.ceil(untilMs)

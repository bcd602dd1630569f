-- The leases on the runs the runtime executes (durable/runLeases.ts), timed by the store's
-- clock (TIME), never a replica's: a sorted set of run → lease end (ms) and a hash of run →
-- the replica that holds it, both under one hash tag.
-- KEYS: 1 the lease ends (zset), 2 the holders (hash).
-- ARGV: 1 mode (acquire|renew|takeover|release|handover|lapsed), 2 run (lapsed: how many), 3 replica,
-- 4 lease ms.
-- Replies {ok (1|0), detail}: acquire and renew the lease's ms left (0 when refused), takeover
-- the replica it was taken from, lapsed the runs whose lease ended (a list, no flag).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local mode = ARGV[1]
if mode == 'lapsed' then
  return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[2]))
end
local run = ARGV[2]
local replica = ARGV[3]
local ttl = tonumber(ARGV[4])
local holder = redis.call('HGET', KEYS[2], run)
local ends = tonumber(redis.call('ZSCORE', KEYS[1], run) or '0')
local held = holder and ends >= now
if mode == 'acquire' then
  if held and holder ~= replica then
    return { 0, 0 }
  end
elseif mode == 'renew' then
  -- Lapsed but not taken: still ours to renew. Taken: ours no longer.
  if holder ~= replica then
    return { 0, 0 }
  end
elseif mode == 'takeover' then
  -- Its own lapsed lease too: a replica that gave a run up while the store was away resumes it.
  if not holder or held then
    return { 0, '' }
  end
elseif mode == 'release' or mode == 'handover' then
  if holder ~= replica then
    return { 0, 0 }
  end
  if mode == 'release' then
    redis.call('ZREM', KEYS[1], run)
    redis.call('HDEL', KEYS[2], run)
  else
    -- Lapsed at once: the next replica to look takes the run over.
    redis.call('ZADD', KEYS[1], now - 1, run)
  end
  return { 1, 0 }
end
redis.call('ZADD', KEYS[1], now + ttl, run)
redis.call('HSET', KEYS[2], run, replica)
if mode == 'takeover' then
  return { 1, holder }
end
return { 1, ttl }

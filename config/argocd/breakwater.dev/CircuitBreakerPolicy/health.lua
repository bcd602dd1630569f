-- Argo CD health of a Breakwater CircuitBreakerPolicy: the breaker state the operator
-- aggregates over every replica that uses the policy. Open (all replicas) and Degraded (some)
-- are outages Argo CD should show; HalfOpen is recovery in progress. In Shadow mode nothing
-- is ever blocked, so an "open" shadow breaker is reported, not counted against health.
local hs = {}

local status = obj.status
local spec = obj.spec or {}
local generation = obj.metadata.generation or 0
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Breakwater operator to report status"
  return hs
end
if status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation ..
    " (status is for " .. status.observedGeneration .. ")"
  return hs
end

local override = spec.override or {}
local overrideNote = ""
if override.state == "ForcedOpen" or override.state == "ForcedClosed" then
  overrideNote = "; override " .. override.state
  if override.reason ~= nil and override.reason ~= "" then
    overrideNote = overrideNote .. " (" .. override.reason .. ")"
  end
  if override["until"] ~= nil then
    overrideNote = overrideNote .. " until " .. override["until"]
  end
end

local state = status.state or "Closed"
local summary = status.openSummary or "0/0"
local trips = status.trips or 0
local tripped = ""
if trips == 1 then
  tripped = ", 1 trip"
elseif trips > 1 then
  tripped = ", " .. trips .. " trips"
end
if trips > 0 and status.lastTripTime ~= nil then
  tripped = tripped .. ", last at " .. status.lastTripTime
end

if (state == "Open" or state == "Degraded") and spec.mode == "Shadow" then
  hs.status = "Healthy"
  hs.message = "Shadow mode: would be open on " .. summary .. " replicas" .. tripped ..
    "; no call is blocked"
  return hs
end
if state == "Open" or state == "Degraded" then
  hs.status = "Degraded"
  hs.message = "Open on " .. summary .. " replicas" .. tripped .. overrideNote
  return hs
end
if state == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for " .. ((status.replicas or {}).unknown or 0) ..
    " starting replicas to report their breakers" .. overrideNote
  return hs
end
if state == "HalfOpen" then
  hs.status = "Progressing"
  hs.message = "Half-open: probing the provider" .. tripped .. overrideNote
  return hs
end

hs.status = "Healthy"
local replicas = status.replicas or {}
if (replicas.total or 0) == 0 then
  hs.message = "Closed; no agent replica uses this policy yet" .. overrideNote
else
  hs.message = "Closed on " .. (replicas.closed or 0) .. "/" .. replicas.total .. " replicas" ..
    tripped .. overrideNote
end
return hs

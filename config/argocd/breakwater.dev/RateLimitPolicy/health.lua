-- Argo CD health of a Breakwater RateLimitPolicy. The policy itself cannot fail at run time
-- (refusals are its job, and they are alerted on from metrics), so health says whether the
-- operator has resolved the current generation and what each replica is allowed now. One
-- exception: a budget spent with onExhausted Refuse (BudgetExhausted, reason Refusing) stops
-- an agent's calls until the period ends, which is Degraded; a team's budget (per Policy),
-- spent by every agent on the policy together, stops all of theirs. A budget past warnAtPercent, one
-- spent under Fallback or Shadow, or a model without a price stays Healthy, with a warning.
local hs = {}

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

local status = obj.status
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

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

local exhausted = condition(status.conditions, "BudgetExhausted")
if exhausted ~= nil and exhausted.status == "True" and exhausted.reason == "Refusing" then
  hs.status = "Degraded"
  hs.message = "Budget exhausted: " .. (exhausted.message or "")
  return hs
end

-- Warnings a healthy policy carries in its message, most pressing first.
local function warnings()
  local out = ""
  local priced = condition(status.conditions, "ModelsPriced")
  if priced ~= nil and priced.status == "False" then
    out = out .. "; warning: " .. (priced.message or "a model has no price")
  end
  if exhausted ~= nil and exhausted.status == "True" then
    out = out .. "; warning: budget exhausted: " .. (exhausted.message or "")
  else
    local warning = condition(status.conditions, "BudgetWarning")
    if warning ~= nil and warning.status == "True" then
      out = out .. "; warning: " .. (warning.message or "a budget passed its warning")
    end
  end
  return out
end

local effective = status.effective
hs.status = "Healthy"
if effective == nil or effective.requestsPerSecond == nil then
  hs.message = (ready.message or "Ready") .. warnings()
  return hs
end
local replicas = effective.replicas or 1
local who = "Each of " .. replicas .. " replicas"
if replicas == 1 then who = "One replica" end
hs.message = who .. ": " .. effective.requestsPerSecond ..
  " requests/s, burst " .. (effective.burst or 0)
if effective.maxConcurrent ~= nil then
  hs.message = hs.message .. ", " .. effective.maxConcurrent .. " concurrent"
end
if obj.spec ~= nil and obj.spec.mode == "Shadow" then
  hs.message = hs.message .. " (Shadow mode: reported, not enforced)"
end
hs.message = hs.message .. warnings()
return hs

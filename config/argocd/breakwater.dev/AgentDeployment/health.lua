-- Argo CD health of a Breakwater AgentDeployment, read from the status the operator writes.
-- Order matters: a stale status says nothing about the current spec, a stalled agent will not
-- recover by waiting, a model past its end of life fails every call to it, and an open breaker
-- is an outage even while every pod is ready. A model that is only deprecated still works, and
-- an unreachable MCP server fails only its tools: the agent stays Healthy, with a warning in
-- the message. The operator, not this script, compares
-- the end-of-life day with the clock (reason Deprecated, then PastEndOfLife). A budget spent
-- with onExhausted Refuse (BudgetExhausted, reason Refusing) refuses every call until the period
-- ends: Degraded; so does a team's (per Policy) that every agent on the policy spent together.
-- A budget past warnAtPercent, one spent under Fallback or Shadow, and a model without a price
-- (ModelsPriced False: only its calls are refused) are warnings.
local hs = {}

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

local function described(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then return c.message end
  return fallback
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

local conditions = status.conditions
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. described(stalled, "the agent cannot make progress")
  return hs
end

local retiring = condition(conditions, "ModelRetiring")
if retiring ~= nil and retiring.status == "True" and retiring.reason == "PastEndOfLife" then
  hs.status = "Degraded"
  hs.message = retiring.reason .. ": " .. described(retiring, "a model is past its end of life")
  return hs
end

local exhausted = condition(conditions, "BudgetExhausted")
if exhausted ~= nil and exhausted.status == "True" and exhausted.reason == "Refusing" then
  hs.status = "Degraded"
  hs.message = "Budget exhausted: " .. described(exhausted, "a budget is spent")
  return hs
end

local breaker = status.breaker
-- In Shadow mode no breaker refuses a call: an open one is reported, not an outage.
local shadow = breaker ~= nil and breaker.mode == "Shadow"
if breaker ~= nil and not shadow and (breaker.state == "Open" or breaker.state == "Degraded") then
  hs.status = "Degraded"
  hs.message = "Provider circuit breaker open on " .. (breaker.open or 0) .. "/" ..
    (breaker.total or 0) .. " replicas: calls fail fast or go to fallback models"
  return hs
end

local ready = condition(conditions, "Ready")
if ready == nil or ready.status ~= "True" then
  local reconciling = condition(conditions, "Reconciling")
  hs.status = "Progressing"
  hs.message = described(ready, described(reconciling, "Waiting for the agent to become ready"))
  return hs
end

local applied = condition(conditions, "PoliciesApplied")
if applied ~= nil and applied.status ~= "True" and applied.reason == "Invalid" then
  hs.status = "Degraded"
  hs.message = "Policy refused by every replica: " .. described(applied, "the policy is invalid")
  return hs
end
if applied ~= nil and applied.status ~= "True" then
  hs.status = "Progressing"
  hs.message = "Policy rolling out: " .. described(applied, "not every replica runs it yet")
  return hs
end

if breaker ~= nil and not shadow and breaker.state == "HalfOpen" then
  hs.status = "Progressing"
  hs.message = "Provider circuit breaker half-open: probing whether the provider has recovered"
  return hs
end

hs.status = "Healthy"
hs.message = described(ready, "Ready")
if status.policy ~= nil and status.policy.hash ~= nil then
  hs.message = hs.message .. ", policy " .. status.policy.hash
end
if shadow and breaker.state ~= "Closed" and breaker.state ~= "Unknown" then
  hs.message = hs.message .. "; Shadow mode: a provider breaker would be " ..
    (breaker.state == "HalfOpen" and "half-open" or "open") .. " on " .. (breaker.open or 0) ..
    "/" .. (breaker.total or 0) .. " replicas, no call is blocked"
end
if retiring ~= nil and retiring.status == "True" then
  hs.message = hs.message .. "; warning: " .. described(retiring, "a model is deprecated")
end
-- An MCP server out of reach fails only its tools: the agent answers without them.
local mcp = condition(conditions, "McpServersReachable")
if mcp ~= nil and mcp.status == "False" then
  hs.message = hs.message .. "; warning: MCP server unreachable: " ..
    described(mcp, "some replica cannot reach an MCP server")
end
local priced = condition(conditions, "ModelsPriced")
if priced ~= nil and priced.status == "False" then
  hs.message = hs.message .. "; warning: " .. described(priced, "a model has no price")
end
if exhausted ~= nil and exhausted.status == "True" then
  hs.message = hs.message .. "; warning: budget exhausted: " .. described(exhausted, "")
else
  local budget = condition(conditions, "BudgetWarning")
  if budget ~= nil and budget.status == "True" then
    hs.message = hs.message .. "; warning: " .. described(budget, "a budget passed its warning")
  end
end
return hs

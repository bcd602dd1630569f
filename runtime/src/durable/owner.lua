-- Whose a run is (prepended to claim.lua and append.lua). An owner is `<key id>:<client>`: the
-- journal key's id (journalCipher.ts) and the HMAC of the client key under it ('pods' for the
-- pods' own key). An owner of another key id wrote the run under a journal key since rotated:
-- its steps cannot be read any more, so the run is no one's and starts again. An owner from
-- before key ids (no ':') is compared by its client part.
-- Returns 'same', 'rekeyed' or 'other'.
local function ownerVerdict(held, presented)
  if not held or held == presented then
    return 'same'
  end
  local at = string.find(presented, ':', 1, true)
  local heldAt = string.find(held, ':', 1, true)
  if not at then
    return 'other'
  end
  if not heldAt then
    return string.sub(presented, at + 1) == held and 'same' or 'other'
  end
  if string.sub(held, 1, heldAt) ~= string.sub(presented, 1, at) then
    return 'rekeyed'
  end
  return 'other'
end

/**
 * Reading a go.mod's versions, for the checks that the cluster's Go builds agree on them
 * (helmPinning and nodeToolsPinning unit tests).
 */

/** A go.mod's modules and the version each is built at (a `replace` wins over `require`). */
export function moduleVersions(goMod: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const [, path, version] of goMod.matchAll(/^\s*(?:require\s+)?([^\s/]+\.[^\s]+)\s+(v\S+)/gm))
    if (path !== undefined && version !== undefined) versions.set(path, version);
  for (const [, path, version] of goMod.matchAll(/^\s*(?:replace\s+)?(\S+)\s+=>\s+\S+\s+(v\S+)/gm))
    if (path !== undefined && version !== undefined) versions.set(path, version);
  return versions;
}

/** What a go.mod requires, before any replace. */
export function requiredVersions(goMod: string): Map<string, string> {
  return moduleVersions(
    goMod.replace(/^replace \([\s\S]*?^\)/gm, '').replace(/^replace .*$/gm, ''),
  );
}

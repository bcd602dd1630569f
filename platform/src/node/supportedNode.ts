/**
 * The Node.js version check each program runs before anything else. Its `main.ts` imports only
 * this module, checks, and then `import()`s the program itself: static imports are all loaded
 * before a module's body runs, and on an older Node some of them (undici) crash while loading,
 * long before the program could say why. Keep this module free of imports.
 */

/** The oldest major version the programs run on (package.json `engines`, .nvmrc, Dockerfile). */
export const MINIMUM_NODE_MAJOR = 24;

/** What to tell the user when `version` (like `20.20.2`) is too old; undefined when it is not. */
export function unsupportedNodeMessage(
  program: string,
  version: string,
  execPath: string,
): string | undefined {
  const major = Number.parseInt(version, 10);
  if (major >= MINIMUM_NODE_MAJOR) return undefined;
  return (
    `${program}: Node.js ${String(MINIMUM_NODE_MAJOR)} or newer is needed; this is Node.js ${version} (${execPath}).\n` +
    `  In a checkout, \`make setup\` puts a project-local Node ${String(MINIMUM_NODE_MAJOR)} in .breakwater/node/bin, which the make targets use.\n` +
    `  Otherwise install Node ${String(MINIMUM_NODE_MAJOR)} (https://nodejs.org, or \`nvm install ${String(MINIMUM_NODE_MAJOR)}\`).\n`
  );
}

/** Exits with status 1 and the message above when this Node is too old. */
export function requireSupportedNode(program: string): void {
  const message = unsupportedNodeMessage(program, process.versions.node, process.execPath);
  if (message === undefined) return;
  process.stderr.write(message);
  process.exit(1);
}

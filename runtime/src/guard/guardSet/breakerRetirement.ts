import type { PolicyDocument } from '../../../../contract/src/policy/policyDocument.ts';

/** What a breaker guards: one backend's model, or one tool. */
export type BreakerTarget =
  | { readonly kind: 'model'; readonly backend: string; readonly model: string }
  | {
      readonly kind: 'tool';
      readonly tool: string;
      /** The MCP server whose tool it is; absent for an HTTP tool. */
      readonly server?: string;
    };

/**
 * Breakers a reload retires: those of a backend or tool the new policy no longer lists (an MCP
 * tool its server's allow-list leaves out included), and
 * of a model the old policy named (as primary or fallback) and the new one does not. A model
 * only callers ever named keeps its breaker: callers may go on asking for it.
 */
export function retiredBreakers(
  targets: Iterable<readonly [string, BreakerTarget]>,
  previous: PolicyDocument,
  next: PolicyDocument,
): string[] {
  const backends = new Set(next.backends.map((b) => b.name));
  const tools = new Set(next.tools.map((t) => t.name));
  const servers = new Map((next.mcpServers ?? []).map((m) => [m.name, m.tools] as const));
  // An MCP tool's breaker is named for `<server>__<tool>`; its server's allow-list (when it
  // has one) names the tool alone.
  const serverGone = (server: string, tool: string) => {
    if (!servers.has(server)) return true;
    const allowed = servers.get(server);
    return allowed !== undefined && !allowed.includes(tool.slice(server.length + 2));
  };
  const models = (d: PolicyDocument) => new Set([d.model.name, ...d.model.fallbacks]);
  const named = models(previous);
  const still = models(next);
  const retired: string[] = [];
  for (const [name, target] of targets) {
    const gone =
      target.kind === 'tool'
        ? target.server === undefined
          ? !tools.has(target.tool)
          : serverGone(target.server, target.tool)
        : !backends.has(target.backend) || (named.has(target.model) && !still.has(target.model));
    if (gone) retired.push(name);
  }
  return retired;
}

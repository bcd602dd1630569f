/**
 * The V8 heap a process's code holds, by script: what a heap snapshot (v8.writeHeapSnapshot)
 * ties to each loaded module's Script — its source text, its functions (shared function infos,
 * closures), and what those hold of code's kind (bytecode, scope infos, feedback, constant
 * pools), each object counted once, at the first script that reaches it. Objects the code
 * makes at run time (a Map it fills, a registry's metrics) are not code and stay out: the
 * sum is what loading a module costs the heap, not what its objects hold later.
 *
 * Scripts are grouped by npm package (`pkg:<name>`), by the project's folder two levels down
 * (`runtime/src/guard`, `contract/src`) and by Node's own (`node:internals`).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

export interface ScriptGroup {
  readonly group: string;
  readonly scripts: number;
  readonly bytes: number;
}

/** The group a script's name (a file: URL, a path, `node:…`) belongs to. */
export function scriptGroup(name: string): string {
  const path = name.startsWith('file://') ? decodeURIComponent(name.slice('file://'.length)) : name;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
  if (pkg !== undefined) return `pkg:${pkg}`;
  // The project's, from source or built (dist/), in any checkout: its folder two levels down.
  const own =
    /\/((?:runtime|contract|platform|operator|simulator|plugin|bench)\/src|bench)\/(.*)$/.exec(
      path,
    );
  if (own !== null) {
    const [, top = '', rest = ''] = own;
    const slash = rest.indexOf('/');
    return slash < 0 ? top : `${top}/${rest.slice(0, slash)}`;
  }
  if (path.startsWith('node:') || !path.includes('/')) return 'node:internals';
  return 'other';
}

/** Bytes of code per group, largest first, read from the snapshot at `file`. */
export function heapByScript(file: string): ScriptGroup[] {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const meta = s.snapshot.meta;
  const F = meta.node_fields.length;
  const E = meta.edge_fields.length;
  const [TYPE, NAME, SIZE, EDGES] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
    meta.node_fields.indexOf(f),
  ) as [number, number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = s;
  const CODE = nodeTypes.indexOf('code');
  const CLOSURE = nodeTypes.indexOf('closure');
  const WEAK = edgeTypes.indexOf('weak');
  const NAMED = new Set(
    ['context', 'property', 'internal', 'shortcut'].map((t) => edgeTypes.indexOf(t)),
  );

  // Each node's first edge, by the running sum of edge counts.
  const count = nodes.length / F;
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++)
    firstEdge[i + 1] = (firstEdge[i] ?? 0) + (nodes[i * F + EDGES] ?? 0);
  const edgeName = (e: number) =>
    NAMED.has(edges[e] ?? -1) ? (strings[edges[e + 1] ?? 0] ?? '') : '';
  const out = function* (node: number) {
    for (let e = (firstEdge[node] ?? 0) * E; e < (firstEdge[node + 1] ?? 0) * E; e += E)
      yield { e, to: (edges[e + 2] ?? 0) / F };
  };
  const nameOf = (node: number) => strings[nodes[node * F + NAME] ?? 0] ?? '';
  const SFI = '(shared function info)';

  // Script of each shared function info; the scripts are the targets of their `script` edges.
  const scriptOf = new Map<number, number>();
  const closuresOf = new Map<number, number[]>();
  for (let n = 0; n < count; n++) {
    const type = nodes[n * F + TYPE];
    if (type === CODE && nameOf(n) === SFI) {
      for (const { e, to } of out(n)) if (edgeName(e) === 'script') scriptOf.set(n, to);
    } else if (type === CLOSURE) {
      for (const { e, to } of out(n))
        if (edgeName(e) === 'shared') closuresOf.set(to, [...(closuresOf.get(to) ?? []), n]);
    }
  }
  const scripts = new Set(scriptOf.values());
  const claimed = new Uint8Array(count);
  const bytesOf = new Map<number, number>();
  /** Counts `start` and the code-kind nodes it reaches (no other function, script or closure). */
  const claim = (start: number, script: number) => {
    const stack = [start];
    let bytes = 0;
    while (stack.length > 0) {
      const n = stack.pop() ?? 0;
      if (claimed[n] === 1) continue;
      claimed[n] = 1;
      bytes += nodes[n * F + SIZE] ?? 0;
      for (const { e, to } of out(n)) {
        if (edges[e] === WEAK || claimed[to] === 1 || scripts.has(to)) continue;
        const type = nodes[to * F + TYPE];
        if (type === CODE && nameOf(to) !== SFI) stack.push(to);
      }
    }
    bytesOf.set(script, (bytesOf.get(script) ?? 0) + bytes);
  };
  for (const script of scripts) {
    for (const { e, to } of out(script))
      if (['source', 'line_ends'].includes(edgeName(e)) && claimed[to] === 0) {
        claimed[to] = 1;
        bytesOf.set(script, (bytesOf.get(script) ?? 0) + (nodes[to * F + SIZE] ?? 0));
      }
    claim(script, script);
  }
  for (const [sfi, script] of scriptOf) {
    claim(sfi, script);
    for (const closure of closuresOf.get(sfi) ?? []) claim(closure, script);
  }

  const groups = new Map<string, { scripts: number; bytes: number }>();
  for (const [script, bytes] of bytesOf) {
    const group = scriptGroup(nameOf(script));
    const g = groups.get(group) ?? { scripts: 0, bytes: 0 };
    g.scripts++;
    g.bytes += bytes;
    groups.set(group, g);
  }
  return [...groups].map(([group, g]) => ({ group, ...g })).sort((a, b) => b.bytes - a.bytes);
}

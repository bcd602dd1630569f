/**
 * Which program `breakwater`, the image's one entrypoint (imageEntrypoint.ts), runs: the first argument names the program to run, so
 * `podman run IMAGE breakwater-llm-sim --port 8787` starts the simulator, not the runtime with
 * a stray argument. Without a program name — no arguments, or flags first — it runs the agent
 * runtime, as the image always has (`podman run IMAGE --manifests /etc/breakwater`).
 *
 *   breakwater [breakwater-runtime|runtime] [flags]      the agent runtime (the default)
 *   breakwater breakwater-operator|operator [flags]      the operator
 *   breakwater breakwater-llm-sim|simulator [flags]      the Anthropic API simulator
 *   breakwater kubectl-breakwater|kubectl [flags]        the kubectl plugin
 *   breakwater help                                      this list
 *
 * Kubernetes manifests set `command` to the program itself (the chart, the operator's
 * Deployments), which bypasses this file. The programs are loaded by path, beside this file in
 * dist/ (each from its bundle there) or in the checkout, run from source, never
 * imported: nothing here depends on them.
 */
interface Program {
  readonly name: string;
  readonly aliases: readonly string[];
  /** The entry file, from the repository (or dist/) root, without its extension. */
  readonly entry: string;
  /**
   * The file dist/ runs instead of `entry` (package.json `bin` names it), from dist/, without
   * its extension: the program's bundle (tools/build/bundlePrograms.ts).
   */
  readonly built: string;
  readonly summary: string;
}

export const PROGRAMS: readonly Program[] = [
  {
    name: 'breakwater-runtime',
    aliases: ['runtime'],
    entry: 'runtime/src/main',
    built: 'runtime/bundle/main',
    summary: 'the agent runtime (the default)',
  },
  {
    name: 'breakwater-operator',
    aliases: ['operator'],
    entry: 'operator/src/main',
    built: 'bundle/operator',
    summary: 'the operator',
  },
  {
    name: 'breakwater-llm-sim',
    aliases: ['simulator', 'llm-sim'],
    entry: 'simulator/src/main',
    built: 'bundle/simulator',
    summary: 'the Anthropic API simulator (tests and demos)',
  },
  {
    name: 'kubectl-breakwater',
    aliases: ['kubectl', 'plugin'],
    entry: 'plugin/src/main',
    built: 'bundle/plugin',
    summary: 'the kubectl plugin',
  },
];

export type Dispatch =
  | { readonly kind: 'run'; readonly program: Program; readonly args: readonly string[] }
  | { readonly kind: 'help' }
  | { readonly kind: 'unknown'; readonly word: string };

/** Which program the arguments ask for, and the arguments it gets. */
export function dispatch(args: readonly string[]): Dispatch {
  const [first, ...rest] = args;
  const runtime = PROGRAMS[0] as Program;
  if (first === undefined || first.startsWith('-')) return { kind: 'run', program: runtime, args };
  if (first === 'help') return { kind: 'help' };
  const program = PROGRAMS.find((p) => p.name === first || p.aliases.includes(first));
  return program === undefined
    ? { kind: 'unknown', word: first }
    : { kind: 'run', program, args: rest };
}

export function usage(): string {
  const rows = PROGRAMS.map(
    (p) => `  ${[p.name, ...p.aliases].join(' | ').padEnd(46)} ${p.summary}`,
  );
  return [
    'Usage: breakwater [program] [flags]',
    '',
    'The Breakwater image runs one of its programs; without one, the agent runtime.',
    ...rows,
    '',
    "Each program's own flags: breakwater <program> --help",
  ].join('\n');
}

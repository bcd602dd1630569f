/** Compares what the generator would write with what is on disk, and says how they differ. */

export interface Drift {
  readonly file: string;
  readonly problem: 'missing' | 'stale' | 'changed';
  /** For a changed file: the first line that differs, 1-based, and both versions of it. */
  readonly line?: number;
  readonly expected?: string;
  readonly actual?: string;
}

/** `expected` and `actual` map file paths to contents; `actual` lists every generated file on disk. */
export function findDrift(
  expected: ReadonlyMap<string, string>,
  actual: ReadonlyMap<string, string>,
): Drift[] {
  const drift: Drift[] = [];
  for (const [file, want] of expected) {
    const have = actual.get(file);
    if (have === undefined) {
      drift.push({ file, problem: 'missing' });
    } else if (have !== want) {
      const wantLines = want.split('\n');
      const haveLines = have.split('\n');
      const index = wantLines.findIndex((line, i) => line !== haveLines[i]);
      const at = index === -1 ? wantLines.length : index;
      drift.push({
        file,
        problem: 'changed',
        line: at + 1,
        expected: wantLines[at] ?? '<end of file>',
        actual: haveLines[at] ?? '<end of file>',
      });
    }
  }
  for (const file of actual.keys()) {
    if (!expected.has(file)) drift.push({ file, problem: 'stale' });
  }
  return drift.sort((a, b) => (a.file < b.file ? -1 : 1));
}

export function describeDrift(drift: readonly Drift[]): string {
  const lines = drift.map((entry) => {
    switch (entry.problem) {
      case 'missing':
        return `  ${entry.file}: missing (the schemas generate it)`;
      case 'stale':
        return `  ${entry.file}: stale (no schema generates it any more)`;
      case 'changed':
        return (
          `  ${entry.file}: differs from line ${entry.line ?? 0}\n` +
          `      generated: ${entry.expected ?? ''}\n` +
          `      on disk:   ${entry.actual ?? ''}`
        );
    }
  });
  return [
    `${drift.length} generated file(s) out of date:`,
    ...lines,
    'Run `make generate` and commit the result.',
  ].join('\n');
}

/**
 * goModVersion.sh is how the cluster's build scripts read a module's version from a go.mod (the
 * cache keys and version stamps of Kubernetes, etcd, CoreDNS, crictl and helm). It must read
 * every form `go mod tidy` writes, and agree with goModules.ts, which the pinning checks use.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleVersions } from './goModules.ts';

const HELPER = fileURLToPath(new URL('./goModVersion.sh', import.meta.url));

/** What module_version prints for each of `modules` in `goModPath`; undefined where it fails. */
function shellVersions(goModPath: string, modules: readonly string[]): (string | undefined)[] {
  // One bash for all of them: a line per module, empty where module_version failed.
  const script = `source "$1"; shift; mod=$1; shift; for m in "$@"; do module_version "$mod" "$m" || echo; done`;
  const out = execFileSync('bash', ['-c', script, 'bash', HELPER, goModPath, ...modules], {
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .slice(0, modules.length)
    .map((line) => (line === '' ? undefined : line));
}

function inTemp(goMod: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'gomod-'));
  try {
    const path = join(dir, 'go.mod');
    writeFileSync(path, goMod);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('module_version (goModVersion.sh)', () => {
  it.each(['k8s-binaries', 'helm-binary'])(
    "reads every module of %s/go.mod at goModules.ts's version",
    (module) => {
      const path = fileURLToPath(new URL(`./${module}/go.mod`, import.meta.url));
      const expected = moduleVersions(readFileSync(path, 'utf8'));
      const modules = [...expected.keys()];
      expect(modules.length).toBeGreaterThan(10);
      expect(shellVersions(path, modules)).toEqual(modules.map((m) => expected.get(m)));
    },
  );

  it('reads one-line require and replace directives, a version-specific replace, and fails on a module not there', () => {
    const goMod = [
      'module example.com/m',
      '',
      'go 1.25.0',
      '',
      'require github.com/coredns/coredns v1.14.7',
      '',
      'require (',
      '\tk8s.io/kubernetes v1.36.3',
      '\tgolang.org/x/net v0.40.0 // indirect',
      '\tgithub.com/a/b v1.0.0',
      ')',
      '',
      'replace golang.org/x/net => golang.org/x/net v0.38.0',
      '',
      'replace (',
      '\tgithub.com/a/b v1.0.0 => github.com/a/b v1.0.1',
      '\tk8s.io/kubernetes => ./local/kubernetes',
      ')',
      '',
    ].join('\n');
    inTemp(goMod, (path) => {
      expect(
        shellVersions(path, [
          'github.com/coredns/coredns',
          'k8s.io/kubernetes',
          'golang.org/x/net',
          'github.com/a/b',
          'sigs.k8s.io/cri-tools',
        ]),
      ).toEqual(['v1.14.7', 'v1.36.3', 'v0.38.0', 'v1.0.1', undefined]);
    });
  });
});

/**
 * helm is built with the module versions the cluster's binaries are built with (pin-helm.sh),
 * so that Go's build cache gives it many of the packages the node image's build compiled (340
 * of the 548 it shares with it). A bump of k8s-binaries/ not followed by pin-helm.sh would leave
 * every cold machine compiling them twice; this says which modules drifted.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { moduleVersions } from './goModules.ts';

/** The modules pin-helm.sh leaves at helm's own version: its KEEP, read from the script. */
const KEEP = new RegExp(
  /^KEEP='([^']+)'$/m.exec(readFileSync(new URL('./pin-helm.sh', import.meta.url), 'utf8'))?.[1] ??
    'pin-helm.sh has no KEEP line',
);

const read = (module: string) =>
  moduleVersions(readFileSync(new URL(`./${module}/go.mod`, import.meta.url), 'utf8'));

describe("helm's modules", () => {
  it('read a go.mod as go builds it: a replace wins over the require', () => {
    const versions = moduleVersions(
      [
        'module example.com/m',
        'require (',
        '\tk8s.io/client-go v0.36.2 // indirect',
        '\tgolang.org/x/net v0.56.0 // indirect',
        ')',
        'replace k8s.io/client-go => k8s.io/client-go v0.36.3',
        'replace (',
        '\tgolang.org/x/net => golang.org/x/net v0.49.0',
        ')',
      ].join('\n'),
    );
    expect(Object.fromEntries(versions)).toEqual({
      'k8s.io/client-go': 'v0.36.3',
      'golang.org/x/net': 'v0.49.0',
    });
  });

  it("are the cluster binaries' versions wherever both use a module (pin-helm.sh)", () => {
    const cluster = read('k8s-binaries');
    const helm = read('helm-binary');
    const drifted = [...helm]
      .filter(
        ([path, version]) => !KEEP.test(path) && cluster.has(path) && cluster.get(path) !== version,
      )
      .map(([path, version]) => `${path}: helm ${version}, cluster ${String(cluster.get(path))}`);
    expect(drifted).toEqual([]);
    // client-go and apimachinery are what helm shares most: they must be among the shared.
    expect(helm.get('k8s.io/client-go')).toBe(cluster.get('k8s.io/client-go'));
    expect(helm.get('k8s.io/apimachinery')).toBe(cluster.get('k8s.io/apimachinery'));
  });
});

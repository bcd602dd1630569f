/**
 * CoreDNS and crictl are built in k8s-binaries/, the cluster's module, with every module they
 * would raise pinned to the version Kubernetes and etcd are released with (pin-node-tools.sh):
 * the Kubernetes binaries then build from the sources they would without the two. The pins are
 * made for one Kubernetes and one etcd; a bump of either not followed by pin-node-tools.sh
 * would hold the cluster's own dependencies at the old release's versions. This says so.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { moduleVersions, requiredVersions as required } from './goModules.ts';

const goMod = readFileSync(new URL('./k8s-binaries/go.mod', import.meta.url), 'utf8');
const MARKER = '// CoreDNS and crictl on the versions of';

/** The versions the pin block says it was made for, and its pins. */
function pinBlock(text: string) {
  const start = text.indexOf(MARKER);
  if (start < 0) return undefined;
  const header = /k8s\.io\/kubernetes (v\S+) and go\.etcd\.io\/etcd\/server\/v3 (v[^\s,]+)/.exec(
    text.slice(start),
  );
  const block = /^replace \(([\s\S]*?)^\)/m.exec(text.slice(start))?.[1] ?? '';
  return {
    kubernetes: header?.[1],
    etcd: header?.[2],
    pins: moduleVersions(block),
  };
}

describe("CoreDNS and crictl in the cluster's module", () => {
  it('are required there, with the block of pins pin-node-tools.sh writes', () => {
    const versions = required(goMod);
    expect(versions.get('github.com/coredns/coredns')).toMatch(/^v1\./);
    expect(versions.get('sigs.k8s.io/cri-tools')).toMatch(/^v1\./);
    expect(pinBlock(goMod)?.pins.size).toBeGreaterThan(0);
  });

  it('are pinned for the Kubernetes and etcd the module builds (else: run pin-node-tools.sh)', () => {
    const versions = required(goMod);
    const block = pinBlock(goMod);
    expect({ kubernetes: block?.kubernetes, etcd: block?.etcd }).toEqual({
      kubernetes: versions.get('k8s.io/kubernetes'),
      etcd: versions.get('go.etcd.io/etcd/server/v3'),
    });
  });

  it('tells a bump that was not followed by pin-node-tools.sh', () => {
    const bumped = goMod.replace(/^(\s*k8s\.io\/kubernetes) v\S+/m, '$1 v1.99.0');
    expect(bumped).not.toBe(goMod);
    expect(pinBlock(bumped)?.kubernetes).not.toBe(required(bumped).get('k8s.io/kubernetes'));
  });

  it('pin only downwards: a pin never raises a module above what the module requires', () => {
    const versions = required(goMod);
    const raised = [...(pinBlock(goMod)?.pins ?? [])].filter(([path, pin]) => {
      const wanted = versions.get(path);
      return wanted !== undefined && compareVersions(pin, wanted) > 0;
    });
    expect(raised).toEqual([]);
  });
});

/** Semantic order of two Go module versions (pseudo-versions by their base and timestamp). */
function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/, '').split(/[.-]/);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x, y] = [pa[i] ?? '', pb[i] ?? ''];
    const [nx, ny] = [Number(x), Number(y)];
    const order =
      Number.isInteger(nx) && Number.isInteger(ny) && x !== '' && y !== ''
        ? nx - ny
        : x.localeCompare(y);
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * jest's `local` project (jest.config.js LOCAL_FILES) runs while no cluster exists: `make test`
 * runs it beside the first build of kind's node image. A file there that reached the cluster's
 * support code would fail only on a machine where the cluster is not up yet; this finds it
 * from the imports, on every machine.
 */
import { describe, expect, it } from '@jest/globals';
import { readGraph, reach } from '../scripts/importGraph.ts';

// jest.config.js is plain JavaScript (jest reads it before any transform): loaded by URL.
const { LOCAL_FILES } = (await import(new URL('../jest.config.js', import.meta.url).href)) as {
  LOCAL_FILES: readonly string[];
};

/** What only a cluster answers: the kubeconfig's client and kind's node. */
const CLUSTER_MODULES = ['test/support/kube.ts', 'tools/kindNode/kindCluster.ts'];

const pattern = (glob: string) =>
  new RegExp(`^${glob.replaceAll('.', '\\.').replaceAll('*', '[^/]*')}$`);
const graph = readGraph();
// Every integration test file is in the import graph, which reads every source file.
const localFiles = [...graph.files.keys()].filter(
  (file) =>
    file.endsWith('.test.ts') &&
    !file.endsWith('.unit.test.ts') &&
    LOCAL_FILES.some((glob) => pattern(glob).test(file)),
);

describe("jest's local project", () => {
  it('holds a file for every entry of LOCAL_FILES', () => {
    for (const glob of LOCAL_FILES)
      expect({ glob, matched: localFiles.some((file) => pattern(glob).test(file)) }).toEqual({
        glob,
        matched: true,
      });
  });

  it('holds no file that reaches the cluster through its imports', () => {
    const reached = localFiles.flatMap((file) =>
      reach(graph, file)
        .files.filter((reachedFile) => CLUSTER_MODULES.includes(reachedFile))
        .map((clusterModule) => `${file} → ${clusterModule}`),
    );
    expect(reached).toEqual([]);
  });

  it('would catch a file that does (the rule is not empty)', () => {
    expect(reach(graph, 'test/api/durabilityManifests.test.ts').files).toContain(
      'test/support/kube.ts',
    );
  });
});

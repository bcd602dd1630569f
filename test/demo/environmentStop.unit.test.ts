import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoLayout } from '../../demo/demoLayout.ts';
import type { DemoState } from '../../demo/demoState.ts';
import { stopRecorded } from '../../demo/environmentStop.ts';

describe('stopping what an earlier demo left behind', () => {
  it('gets past a kubeconfig that went with its cluster', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bw-demo-stop-'));
    try {
      const state: DemoState = {
        version: 1,
        purpose: 'demo',
        startedAt: new Date(0).toISOString(),
        namespace: 'breakwater-demo',
        cluster: 'breakwater',
        kubeconfig: join(root, 'gone', 'kubeconfig'),
        kubectl: 'kubectl',
        startedCluster: false,
        createdNamespace: true,
        processes: {},
        endpoints: {},
      };
      const said: string[] = [];
      const report = await stopRecorded(state, demoLayout(root), (line) => said.push(line));
      expect(report).toEqual({ stopped: [], leftovers: [] });
      expect(said).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

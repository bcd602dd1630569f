/**
 * `make chart-test`: runs every chart check (chartChecks.ts) in order against the cluster of
 * BREAKWATER_KUBECONFIG, else KUBECONFIG, else the local one (.breakwater/kubeconfig), and
 * exits 1 when any fails. helm is built once from its Go module (tools/cluster/build-helm.sh).
 *
 *   node test/chart/chartTest.ts
 */
import { existsSync } from 'node:fs';
import { chartChecks } from './chartChecks.ts';
import { findHelm, findKubectl, kubeconfigFrom, run } from './chartTools.ts';

async function main(): Promise<number> {
  const kubeconfig = kubeconfigFrom();
  if (!existsSync(kubeconfig)) {
    process.stderr.write(
      `error: no kubeconfig at ${kubeconfig}: bring kind up with \`make kind-up\`, ` +
        'or point BREAKWATER_KUBECONFIG at a cluster\n',
    );
    return 1;
  }
  const [helm, kubectl] = await Promise.all([findHelm(), findKubectl()]);
  const reachable = await run(kubectl, ['--kubeconfig', kubeconfig, 'get', '--raw', '/readyz'], {
    allowFailure: true,
    timeoutMs: 15_000,
  });
  if (reachable.code !== 0) {
    process.stderr.write(
      `error: the cluster of ${kubeconfig} does not answer (${reachable.stderr.trim()}); ` +
        'is it running? (`make kind-up` brings it up)\n',
    );
    return 1;
  }

  let failed = 0;
  for (const check of chartChecks({ helm, kubectl, kubeconfig })) {
    const started = Date.now();
    try {
      await check.run();
      process.stdout.write(`  ✓ ${check.name} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
    } catch (error: unknown) {
      failed += 1;
      const message = error instanceof Error ? error.message : String(error);
      process.stdout.write(`  ✗ ${check.name}\n${message.replace(/^/gm, '      ')}\n`);
    }
  }
  process.stdout.write(
    failed === 0 ? 'chart checks passed\n' : `${failed} chart check(s) failed\n`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chart-test: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

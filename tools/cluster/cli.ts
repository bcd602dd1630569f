/**
 * The local cluster from the command line (the Makefile's cluster-* targets):
 *
 *   node tools/cluster/cli.ts up       start or repair it, wait until ready
 *   node tools/cluster/cli.ts down     stop every process it runs, wipe etcd's data
 *   node tools/cluster/cli.ts status   one line per component, the nodes, the kubeconfig
 */
import { describeClusterError, isClusterError } from './clusterError.ts';
import { clusterDown, clusterStatus, clusterUp, type StatusReport } from './controlPlane.ts';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await clusterUp();
      return 0;
    case 'down':
      await clusterDown();
      return 0;
    case 'status': {
      const report = await clusterStatus();
      process.stdout.write(formatStatus(report));
      return report.healthy ? 0 : 1;
    }
    default:
      process.stderr.write('usage: node tools/cluster/cli.ts up|down|status\n');
      return 2;
  }
}

function formatStatus(report: StatusReport): string {
  const rows = report.components.map((c) => {
    const state = c.running ? 'running' : 'stopped';
    const health = c.problem === undefined ? 'healthy' : c.running ? `unhealthy: ${c.problem}` : '';
    return [
      c.name.padEnd(24),
      state.padEnd(8),
      (c.pid === undefined ? '' : `pid ${c.pid}`).padEnd(11),
      (c.port === undefined ? '' : `port ${c.port}`).padEnd(11),
      health,
    ]
      .join(' ')
      .trimEnd();
  });
  const nodes =
    report.nodes === undefined
      ? 'unknown (API server not reachable)'
      : report.nodes.length === 0
        ? 'none'
        : report.nodes.map((n) => `${n.name} ${n.ready ? 'Ready' : 'NotReady'}`).join(', ');
  rows.push(`nodes: ${nodes}`, `kubeconfig: ${report.kubeconfig}`);
  return `${rows.join('\n')}\n`;
}

try {
  process.exitCode = await main(process.argv[2]);
} catch (error: unknown) {
  if (isClusterError(error)) {
    process.stderr.write(`error: ${describeClusterError(error)}\n`);
    if (process.argv[2] === 'up') {
      process.stderr.write(
        'What did start keeps running: `make cluster-status` shows it, `make cluster-down` stops it.\n',
      );
    }
  } else {
    process.stderr.write(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exitCode = 1;
}

/**
 * Prometheus for `make up PROMETHEUS=1` (Debian's `prometheus` package): it scrapes the demo
 * agent's pods and the operator and evaluates Breakwater's alerting rules, so a user can
 * inject a fault and watch CircuitBreakerOpen go pending, then firing.
 *
 * The pods are found with Prometheus' own Kubernetes discovery through the local cluster's
 * kubeconfig; the local node gives each pod a local metrics port and records it in an
 * annotation, which a relabel rule turns into the scrape address. So a restarted pod (new
 * port) is followed without anything rewriting the configuration.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import type { ProcessRecord } from '../test/cluster/supervisor.ts';
import { isAlive, logTail } from '../test/cluster/supervisor.ts';
import { AGENT_LABEL } from '../operator/src/builders/labels.ts';
import { portsAnnotation } from '../test/cluster/localNode/portAllocation.ts';
import { DEMO_NAMESPACE, type DemoLayout } from './demoLayout.ts';
import { freePort, portIsFree } from './localPorts.ts';

const RULES_SOURCE = 'config/prometheus/breakwater-rules.yaml';
const PREFERRED_PORT = 9090;

export interface PrometheusOptions {
  readonly layout: DemoLayout;
  readonly kubeconfig: string;
  /** The operator's `/metrics` URL. */
  readonly operatorMetrics: string;
  readonly progress: (line: string) => void;
  /** Starts the process detached and records it (the environment's supervisor). */
  readonly start: (args: readonly string[], command: string) => Promise<ProcessRecord>;
  /** Called as soon as the process runs, so that it is recorded before any wait. */
  readonly afterStart: (record: ProcessRecord, url: string) => Promise<void>;
}

export async function startPrometheus(options: PrometheusOptions): Promise<{ url: string }> {
  const { layout, progress } = options;
  const binary = await findPrometheus(layout, progress);
  const dir = layout.prometheusDir;
  await mkdir(join(dir, 'data'), { recursive: true });
  const rules = await writeRules(layout);
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    prometheusConfig({
      kubeconfig: options.kubeconfig,
      operatorMetrics: options.operatorMetrics,
      ruleFiles: rules === undefined ? [] : [rules],
    }),
  );
  progress(`config ${config}${rules === undefined ? ' (no rules file found)' : ''}`);
  await promtool(binary, ['check', 'config', config]);

  const port = (await portIsFree(PREFERRED_PORT)) ? PREFERRED_PORT : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const record = await options.start(
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--web.enable-lifecycle',
    ],
    binary,
  );
  await options.afterStart(record, url);
  await waitReady(`${url}/-/ready`, record);
  return { url };
}

export interface ConfigInputs {
  readonly kubeconfig: string;
  readonly operatorMetrics: string;
  readonly ruleFiles: readonly string[];
}

/** The scrape configuration: the operator by address, the agent pods by discovery. */
export function prometheusConfig(inputs: ConfigInputs): string {
  const operator = new URL(inputs.operatorMetrics);
  const label = (name: string): string => name.replace(/[^a-zA-Z0-9_]/g, '_');
  const config = {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: inputs.ruleFiles,
    scrape_configs: [
      {
        job_name: 'breakwater-operator',
        metrics_path: operator.pathname,
        static_configs: [
          {
            targets: [operator.host],
            labels: { namespace: DEMO_NAMESPACE, service: 'breakwater-operator' },
          },
        ],
      },
      {
        job_name: 'breakwater-agents',
        kubernetes_sd_configs: [
          {
            role: 'pod',
            kubeconfig_file: inputs.kubeconfig,
            namespaces: { names: [DEMO_NAMESPACE] },
          },
        ],
        relabel_configs: [
          {
            source_labels: [`__meta_kubernetes_pod_label_${label(AGENT_LABEL)}`],
            regex: '.+',
            action: 'keep',
          },
          // One target per pod: its metrics port, not every declared port.
          {
            source_labels: ['__meta_kubernetes_pod_container_port_name'],
            regex: 'metrics',
            action: 'keep',
          },
          {
            source_labels: [`__meta_kubernetes_pod_annotation_${label(portsAnnotation)}`],
            regex: '.*"metrics":([0-9]+).*',
            replacement: '127.0.0.1:$1',
            target_label: '__address__',
          },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          // The rules group by `service`, which a ServiceMonitor sets to the agent's Service.
          {
            source_labels: [`__meta_kubernetes_pod_label_${label(AGENT_LABEL)}`],
            target_label: 'service',
          },
        ],
      },
    ],
  };
  return `# Generated by demo/prometheus.ts for \`make up PROMETHEUS=1\`.\n${stringify(config, { lineWidth: 0 })}`;
}

/**
 * Copies Breakwater's rules into the Prometheus directory. The source is in Prometheus' own
 * rule format; a PrometheusRule object (the Operator's wrapper) is unwrapped to its groups.
 */
async function writeRules(layout: DemoLayout): Promise<string | undefined> {
  const source = join(layout.repoRoot, RULES_SOURCE);
  if (!existsSync(source)) return undefined;
  const parsed = parse(readFileSync(source, 'utf8')) as {
    kind?: string;
    groups?: unknown;
    spec?: { groups?: unknown };
  };
  const groups = parsed.kind === 'PrometheusRule' ? parsed.spec?.groups : parsed.groups;
  const target = join(layout.prometheusDir, 'breakwater-rules.yaml');
  await writeFile(target, stringify({ groups }, { lineWidth: 0 }));
  return target;
}

async function findPrometheus(
  layout: DemoLayout,
  progress: (line: string) => void,
): Promise<string> {
  const found = onPath('prometheus');
  if (found !== undefined) return found;
  const ensure = join(layout.repoRoot, 'scripts/ensure-tools.sh');
  if (existsSync(ensure)) {
    progress('prometheus is not installed: scripts/ensure-tools.sh prometheus');
    await run('bash', [ensure, 'prometheus'], 'scripts/ensure-tools.sh prometheus');
    const installed = onPath('prometheus');
    if (installed !== undefined) return installed;
  }
  throw new Error(
    "Prometheus is not installed; install Debian's package (apt-get install prometheus) and run `make up PROMETHEUS=1` again",
  );
}

async function promtool(prometheus: string, args: readonly string[]): Promise<void> {
  const tool = join(prometheus, '..', 'promtool');
  if (!existsSync(tool)) return;
  await run(tool, args, `promtool ${args.join(' ')}`);
}

function run(command: string, args: readonly string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${what} failed (${String(code)}):\n${output.trim()}`));
    });
  });
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

async function waitReady(url: string, record: ProcessRecord): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!isAlive(record)) {
      throw new Error(
        `prometheus exited during start; last lines of ${record.logFile}:\n${logTail(record.logFile) ?? ''}`,
      );
    }
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // Not yet.
    }
    await sleep(500);
  }
  throw new Error(`prometheus did not become ready at ${url} within 60s`);
}

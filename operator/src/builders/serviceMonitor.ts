import type { AgentDeployment, ServiceMonitorSpec } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { selectorLabels } from './labels.ts';
import { METRICS_PORT_NAME } from '../../../contract/src/pod/runtimePorts.ts';

/** The part of the Prometheus Operator's ServiceMonitor that Breakwater writes. */
export interface ServiceMonitor extends ChildObject<'monitoring.coreos.com/v1', 'ServiceMonitor'> {
  spec: {
    selector: { matchLabels: Record<string, string> };
    endpoints: { port: string; path: string; interval: string }[];
  };
}

export const DEFAULT_SCRAPE_INTERVAL = '30s';

/** Scrapes the metrics port of the agent's Service; `labels` let a Prometheus select it. */
export function buildServiceMonitor(
  agent: Readonly<AgentDeployment>,
  serviceMonitor: Readonly<ServiceMonitorSpec>,
): ServiceMonitor {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: childMetadata(agent, { labels: serviceMonitor.labels }),
    spec: {
      selector: { matchLabels: selectorLabels(agentIdentity(agent).name) },
      endpoints: [
        {
          port: METRICS_PORT_NAME,
          path: '/metrics',
          interval: serviceMonitor.interval ?? DEFAULT_SCRAPE_INTERVAL,
        },
      ],
    },
  };
}

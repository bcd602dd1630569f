import type { ServiceSpec } from './kubeShapes.ts';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { agentIdentity } from './agentIdentity.ts';
import { childMetadata, type ChildObject } from './childMetadata.ts';
import { selectorLabels } from './labels.ts';
import {
  HTTP_PORT_NAME,
  METRICS_PORT,
  METRICS_PORT_NAME,
} from '../../../contract/src/pod/runtimePorts.ts';
import { SERVICE_HTTP_PORT } from './servicePort.ts';
import { serviceTargetPort } from './agentContainer.ts';

export interface Service extends ChildObject<'v1', 'Service'> {
  spec: ServiceSpec;
}

/**
 * `http://<agent>.<namespace>.svc` reaches the agent (the team's own container's first port
 * with `spec.agent`, else the runtime's API); the metrics port, the runtime's, is for scrapers.
 */
export function buildService(agent: Readonly<AgentDeployment>): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(agent),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(agentIdentity(agent).name),
      ports: [
        {
          name: HTTP_PORT_NAME,
          port: SERVICE_HTTP_PORT,
          targetPort: serviceTargetPort(agent),
          protocol: 'TCP',
        },
        {
          name: METRICS_PORT_NAME,
          port: METRICS_PORT,
          targetPort: METRICS_PORT_NAME,
          protocol: 'TCP',
        },
      ],
    },
  };
}

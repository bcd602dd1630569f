/**
 * Each MCP server's `headersSecretRef`, whole, as a directory named for the server under
 * MCP_HEADERS_MOUNT_PATH, in the runtime container only: every key a header the runtime sends
 * to that server. The same conventions as a cloud backend's credentials (deployment.ts):
 * mounted, not read through the API, so neither the operator nor the runtime needs access to
 * Secrets and the kubelet swaps a rotated Secret in for the runtime to re-read; optional, so
 * while the Secret is missing the pod still starts and only that server's calls fail.
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { MCP_HEADERS_MOUNT_PATH } from '../../../contract/src/pod/runtimeEnvironment.ts';
import type { Volume, VolumeMount } from './kubeShapes.ts';

const MCP_HEADERS_VOLUME_PREFIX = 'mcp-';

export interface SecretDirectoryVolume {
  readonly volume: Volume;
  readonly mount: VolumeMount;
}

export function mcpHeadersVolumes(doc: Readonly<PolicyDocument>): SecretDirectoryVolume[] {
  return (doc.mcpServers ?? []).flatMap((server) => {
    const secretName = server.headersSecret;
    if (secretName === undefined) return [];
    const name = mcpHeadersVolumeName(server.name);
    return [
      {
        volume: { name, secret: { secretName, optional: true } },
        mount: { name, mountPath: `${MCP_HEADERS_MOUNT_PATH}/${server.name}`, readOnly: true },
      },
    ];
  });
}

/**
 * `mcp-<server name>`: a DNS label (a server name is one of at most 32 characters) unique
 * among the pod's volumes because server names are. Named for the server, not its index, so
 * that reordering or removing another server does not change this volume and roll every pod.
 */
export function mcpHeadersVolumeName(server: string): string {
  return `${MCP_HEADERS_VOLUME_PREFIX}${server}`;
}

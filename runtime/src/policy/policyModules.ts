/**
 * The modules a policy needs beyond what every runtime loads, loaded before it is applied
 * (PolicyStore's `loadModules`): a pod pays for a feature's packages when a policy first uses
 * it, at start or on a later edit, not at every start (issue 53; bench/results/memory.json has
 * what each holds). The policy in force serves while they load; a policy whose modules are
 * loaded already is applied at once.
 *
 *   a store (`rateLimit.store`) or durability   @redis/client
 *   an MCP server (`mcpServers`)                the MCP SDK's client and server
 *   a Bedrock backend                           @aws-sdk/credential-providers
 *   a Vertex backend                            google-auth-library
 */
import type { PolicyDocument } from '../../../contract/src/policy/policyDocument.ts';
import { loadMcpSdk, mcpSdkLoaded } from '../mcp/mcpSdk.ts';
import { loadAwsCredentialProviders } from '../provider/bedrock/awsCredentials.ts';
import { loadGoogleAuth } from '../provider/vertex/googleCredentials.ts';
import { loadRedisClient, redisClientLoaded } from '../rateLimitStore/redisModule.ts';

/** Cloud credential packages already loaded, by backend type. */
const cloudLoaded = new Set<string>();

/** Loads what `doc` needs and is not loaded yet; undefined when nothing is missing. */
export function loadPolicyModules(doc: PolicyDocument): Promise<void> | undefined {
  const loads: Promise<unknown>[] = [];
  if ((doc.rateLimit.store !== undefined || doc.durability !== undefined) && !redisClientLoaded())
    loads.push(loadRedisClient());
  if ((doc.mcpServers ?? []).length > 0 && !mcpSdkLoaded()) loads.push(loadMcpSdk());
  for (const type of new Set(doc.backends.map((b) => b.type))) {
    if (type === undefined || type === 'Anthropic' || cloudLoaded.has(type)) continue;
    const load = type === 'Bedrock' ? loadAwsCredentialProviders() : loadGoogleAuth();
    loads.push(load.then(() => cloudLoaded.add(type)));
  }
  return loads.length === 0 ? undefined : Promise.all(loads).then(() => undefined);
}

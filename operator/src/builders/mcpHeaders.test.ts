import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment, McpServer } from '../../../contract/src/api/resources.ts';
import { MCP_ANNOTATION } from '../../../contract/src/reporting/mcpReport.ts';
import { BREAKERS_ANNOTATION } from '../../../contract/src/reporting/breakerReport.ts';
import { agentWith, documentFor, minimalAgent, testOptions } from './builderFixtures.ts';
import { buildDeployment, type Deployment } from './deployment.ts';
import { mcpHeadersVolumeName } from './mcpHeaders.ts';

const withServers = (...mcpServers: McpServer[]): AgentDeployment =>
  agentWith({ ...minimalAgent().spec, mcpServers });

const deploymentOf = (agent: AgentDeployment): Deployment =>
  buildDeployment(agent, documentFor(agent), testOptions);

const github: McpServer = {
  name: 'github',
  url: 'http://github-mcp.tools.svc:8080/mcp',
  headersSecretRef: { name: 'github-token' },
};
const search: McpServer = {
  name: 'search',
  url: 'https://search.example/mcp',
  headersSecretRef: { name: 'search-headers' },
};
// No headers: nothing to mount.
const open: McpServer = { name: 'open', url: 'http://open-mcp:8080/mcp' };

describe('MCP server headers in the Deployment', () => {
  it('mounts each headers Secret read-only under the server name, in the runtime container only', () => {
    const agent = withServers(github, open, search);
    const pod = deploymentOf(agent).spec.template.spec;
    expect(pod?.volumes).toEqual([
      { name: 'mcp-github', secret: { secretName: 'github-token', optional: true } },
      { name: 'mcp-search', secret: { secretName: 'search-headers', optional: true } },
    ]);
    expect(pod?.containers).toHaveLength(1);
    expect(pod?.containers[0]?.volumeMounts).toEqual([
      {
        name: 'mcp-github',
        mountPath: '/var/run/secrets/breakwater.dev/mcp/github',
        readOnly: true,
      },
      {
        name: 'mcp-search',
        mountPath: '/var/run/secrets/breakwater.dev/mcp/search',
        readOnly: true,
      },
    ]);
    // Headers travel as files only, never as environment variables.
    expect(JSON.stringify(pod?.containers[0]?.env)).not.toMatch(/github-token|search-headers/);
  });

  it('mounts nothing for servers without headers, nor without servers', () => {
    expect(deploymentOf(withServers(open)).spec.template.spec?.volumes).toBeUndefined();
    expect(deploymentOf(minimalAgent()).spec.template.spec?.volumes).toBeUndefined();
  });

  it('keeps a server volume when another server is removed before it', () => {
    const after = deploymentOf(withServers(search)).spec.template.spec;
    const before = deploymentOf(withServers(open, search)).spec.template.spec;
    expect(after?.volumes).toEqual(before?.volumes);
    expect(after?.containers[0]?.volumeMounts).toEqual(before?.containers[0]?.volumeMounts);
  });

  it('names the volume for the server, a DNS label even for the longest name', () => {
    expect(mcpHeadersVolumeName('github')).toBe('mcp-github');
    const longest = mcpHeadersVolumeName('a'.repeat(32));
    expect(longest.length).toBeLessThanOrEqual(63);
    expect(longest).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it('keeps the MCP report out of the pod template, as the runtime writes it on its own pod', () => {
    const agent = withServers(github);
    agent.spec.podTemplate = {
      annotations: { [MCP_ANNOTATION]: '{}', [BREAKERS_ANNOTATION]: '{}', team: 'tools' },
    };
    expect(deploymentOf(agent).spec.template.metadata?.annotations).toEqual({ team: 'tools' });
  });
});

/**
 * The MCP SDK's modules, loaded the first time a policy declares an MCP server rather than at
 * start: the client, the server and their schemas hold about 40 MB of a process
 * (bench/results/memory.json), which a pod with no MCP server need not pay. The policy's
 * modules (policy/policyModules.ts) load them before such a policy is applied; the code that
 * makes SDK objects runs only where a link exists, and awaits the same load.
 */
type Types = typeof import('@modelcontextprotocol/sdk/types.js');
type ClientModule = typeof import('@modelcontextprotocol/sdk/client/index.js');
type ClientTransport = typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');
type ServerModule = typeof import('@modelcontextprotocol/sdk/server/mcp.js');
type ServerTransport = typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js');

export interface McpSdk {
  readonly Client: ClientModule['Client'];
  readonly StreamableHTTPClientTransport: ClientTransport['StreamableHTTPClientTransport'];
  readonly McpServer: ServerModule['McpServer'];
  readonly StreamableHTTPServerTransport: ServerTransport['StreamableHTTPServerTransport'];
  readonly McpError: Types['McpError'];
  readonly ErrorCode: Types['ErrorCode'];
  readonly CallToolRequestSchema: Types['CallToolRequestSchema'];
  readonly ListToolsRequestSchema: Types['ListToolsRequestSchema'];
}

let loaded: McpSdk | undefined;
let loading: Promise<McpSdk> | undefined;

/** The SDK, loaded once; every caller after the first gets the same promise. */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= Promise.all([
    import('@modelcontextprotocol/sdk/types.js'),
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/server/mcp.js'),
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
  ]).then(([types, client, clientTransport, server, serverTransport]) => {
    loaded = {
      Client: client.Client,
      StreamableHTTPClientTransport: clientTransport.StreamableHTTPClientTransport,
      McpServer: server.McpServer,
      StreamableHTTPServerTransport: serverTransport.StreamableHTTPServerTransport,
      McpError: types.McpError,
      ErrorCode: types.ErrorCode,
      CallToolRequestSchema: types.CallToolRequestSchema,
      ListToolsRequestSchema: types.ListToolsRequestSchema,
    };
    return loaded;
  });
  return loading;
}

/** Whether the SDK is loaded (a policy with MCP servers can then be applied at once). */
export function mcpSdkLoaded(): boolean {
  return loaded !== undefined;
}

/** An error the SDK made (a JSON-RPC error answer); none can exist before it is loaded. */
export function isMcpError(err: unknown): err is InstanceType<Types['McpError']> {
  return loaded !== undefined && err instanceof loaded.McpError;
}

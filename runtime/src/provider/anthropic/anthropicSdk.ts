/**
 * The Anthropic SDK's client, loaded the first time the agent loop sends a turn through it
 * rather than at start. Only the bundled agent's own turns go through the SDK (agentLoop.ts,
 * `via: 'sdk'`); a pass-through call (`/v1/messages`) and a cloud backend never do, so a
 * sidecar need not hold its client and resources (about 12 MB of a process,
 * bench/results/memory.json). The error classes every path classifies by come from the SDK's
 * small `core/error` module, the same classes the client throws.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { ClientOptions } from '@anthropic-ai/sdk';

let loading: Promise<typeof Anthropic> | undefined;

/**
 * The SDK's client class, loaded once; every caller after the first gets the same promise.
 * The agent loop awaits it before a turn, so that a guarded attempt's time is not the load's.
 */
export function loadAnthropicSdk(): Promise<typeof Anthropic> {
  loading ??= import('@anthropic-ai/sdk').then((m) => m.default);
  return loading;
}

/** A client made on first use, once the SDK has loaded; the same client after that. */
export type SdkClient = () => Promise<Anthropic>;

export function sdkClient(options: ClientOptions): SdkClient {
  let client: Promise<Anthropic> | undefined;
  return () => {
    client ??= loadAnthropicSdk().then((Sdk) => new Sdk(options));
    return client;
  };
}

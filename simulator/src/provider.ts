/** The wire formats the simulator answers Claude requests in. */
export const PROVIDERS = ['anthropic', 'bedrock', 'vertex'] as const;

export type Provider = (typeof PROVIDERS)[number];

export function isProvider(value: unknown): value is Provider {
  return PROVIDERS.some((provider) => provider === value);
}

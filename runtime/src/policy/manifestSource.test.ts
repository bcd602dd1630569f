import { describe, expect, it } from '@jest/globals';
import type { AgentDeployment } from '../../../contract/src/api/resources.ts';
import { FALLBACK_MODEL } from '../../../contract/src/api/sampleModels.ts';
import { chooseAgent, providerKeys, type ManifestObject } from './manifestSource.ts';

function agent(name: string, spec: Partial<AgentDeployment['spec']> = {}): AgentDeployment {
  return {
    apiVersion: 'breakwater.dev/v1alpha1',
    kind: 'AgentDeployment',
    metadata: { name },
    spec: {
      model: { name: FALLBACK_MODEL },
      provider: { apiKeySecretRef: { name: 'llm-provider-key', key: 'api-key' } },
      ...spec,
    },
  };
}

describe('chooseAgent', () => {
  const two = [agent('assistant-development'), agent('assistant-production')];

  it.each<[string, AgentDeployment[], string | undefined, string]>([
    ['picks the one named by --agent among several', two, 'assistant-production', 'picked'],
    ['takes the only one without --agent', [agent('solo')], undefined, 'picked'],
    [
      'names those there are when --agent names none of them',
      two,
      'assistant',
      'config/samples holds no AgentDeployment named "assistant"; it holds: assistant-development, assistant-production',
    ],
    [
      'asks for --agent when there are several',
      two,
      undefined,
      'config/samples holds 2 AgentDeployments (assistant-development, assistant-production); choose one with --agent NAME',
    ],
    ['says so when there is none', [], undefined, 'config/samples holds no AgentDeployment'],
  ])('%s', (_name, agents, name, expected) => {
    const chosen = chooseAgent(agents, name, 'config/samples');
    if (expected === 'picked') expect(typeof chosen).toBe('object');
    else expect(chosen).toBe(expected);
    if (typeof chosen === 'object' && name !== undefined) expect(chosen.metadata.name).toBe(name);
  });
});

describe('providerKeys', () => {
  const secrets: Record<string, ManifestObject> = {
    'llm-provider-key': { kind: 'Secret', stringData: { 'api-key': ' sk-ant-placeholder\n' } },
    'west-key': { kind: 'Secret', data: { token: Buffer.from('sk-west').toString('base64') } },
  };
  const find = (name: string) => secrets[name];

  it('reads the provider key from stringData under the variable the policy names', () => {
    expect(providerKeys(agent('a'), find)).toEqual({ ANTHROPIC_API_KEY: 'sk-ant-placeholder' });
  });

  it('reads a backend’s own key from base64 data, and skips a Secret not among the manifests', () => {
    const spec = {
      provider: { apiKeySecretRef: { name: 'absent', key: 'api-key' } },
      backends: [
        { name: 'east', baseURL: 'http://east' },
        {
          name: 'west',
          baseURL: 'http://west',
          apiKeySecretRef: { name: 'west-key', key: 'token' },
        },
      ],
    };
    expect(providerKeys(agent('a', spec), find)).toEqual({
      BREAKWATER_BACKEND_1_API_KEY: 'sk-west',
    });
  });
});

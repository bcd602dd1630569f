import { describe, expect, it } from '@jest/globals';
import { MODEL_END_OF_LIFE } from './modelRetirements.ts';
import { FALLBACK_MODEL, PRIMARY_MODEL } from './sampleModels.ts';
import {
  sdkDeprecations,
  sdkModelNames,
  SDK_DEPRECATION_FILES,
} from '../../../test/support/sdkModelLists.ts';

describe.each([
  ['the primary', PRIMARY_MODEL],
  ['the fallback', FALLBACK_MODEL],
])('%s sample model, %s,', (_role, model) => {
  it("is one the SDK's Model type names", () => {
    expect(sdkModelNames()).toContain(model);
  });

  it('is deprecated neither by the SDK nor in the retirement table', () => {
    const deprecatedBySdk = SDK_DEPRECATION_FILES.filter((file) =>
      sdkDeprecations(file).has(model),
    );
    expect({ deprecatedBySdk, inTable: MODEL_END_OF_LIFE.has(model) }).toEqual({
      deprecatedBySdk: [],
      inTable: false,
    });
  });
});

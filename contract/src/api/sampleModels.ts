/**
 * The models Breakwater's samples, demo, docs and tests name: current models that
 * @anthropic-ai/sdk does not deprecate (sampleModels.test.ts holds them to it). When one is
 * deprecated, change it here and run `make generate`: it rewrites config/samples and lists
 * every doc and test object that still names the old one.
 */

/** The model the production sample and the demo's agent run. */
export const PRIMARY_MODEL = 'claude-sonnet-5-5';

/** The primary's fallback, and the one model of the development sample and most tests. */
export const FALLBACK_MODEL = 'claude-haiku-5-5';

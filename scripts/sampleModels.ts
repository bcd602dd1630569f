/**
 * `node scripts/sampleModels.ts` keeps the samples and the docs naming the models that
 * contract/src/api/sampleModels.ts declares, so that moving off a retiring model is a one-line
 * change there followed by `make generate`:
 *
 * - it writes `spec.model` of the AgentDeployment samples in config/samples (YAML cannot
 *   import the module, so the samples are generated from it);
 * - it names every other model in the docs, the config test data, the chart and the schemas
 *   that is not a sample model, and exits 1: prose and captured output are edited by hand.
 *
 * `node scripts/sampleModels.ts --check` writes nothing and exits 1 when a sample has drifted
 * as well.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { parseDocument } from 'yaml';
import { FALLBACK_MODEL, PRIMARY_MODEL } from '../contract/src/api/sampleModels.ts';
import { describeDrift, findDrift } from './crdgen/drift.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface SampleAgentModels {
  readonly name: string;
  readonly fallbacks?: readonly string[];
}

/**
 * What each sample agent runs: production the primary with the fallback behind it, development
 * the smaller model alone.
 */
const SAMPLE_AGENT_MODELS: ReadonlyMap<string, SampleAgentModels> = new Map([
  [
    'config/samples/agentdeployment-production.yaml',
    { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL] },
  ],
  ['config/samples/agentdeployment-development.yaml', { name: FALLBACK_MODEL }],
  [
    'config/samples/agentdeployment-providers.yaml',
    { name: PRIMARY_MODEL, fallbacks: [FALLBACK_MODEL] },
  ],
]);

/** Where model names are looked for: what users read, written by hand. */
const SCANNED = ['README.md', 'docs', 'config', 'charts/breakwater', 'crds/schemas'];
const SCANNED_EXTENSIONS = /\.(md|ya?ml|json|lua|txt|tpl)$/;
/**
 * Under SCANNED but written by `make generate` from files that are scanned. The samples are
 * scanned: their `spec.model` is written from the module, but the Bedrock and Vertex model IDs
 * in `backends[].models` are written by hand and must follow a model change.
 */
const GENERATED = [
  'docs/api-reference.md',
  'config/prometheus/prometheusrule.yaml',
  'config/argocd/argocd-cm-snippet.yaml',
  'charts/breakwater/crds/',
  'charts/breakwater/files/',
];

/**
 * Files that name a deprecated model on purpose, to show what happens to an agent that runs
 * one; the model each may name.
 */
const RETIRING_EXAMPLES: ReadonlyMap<string, string> = new Map([
  ['docs/runbook.md', 'claude-sonnet-4-5'],
  ['docs/installation.md', 'claude-sonnet-4-5'],
  ['config/prometheus/breakwater-rules.test.yaml', 'claude-sonnet-4-5'],
  ['config/argocd/breakwater.dev/AgentDeployment/health_test.yaml', 'claude-sonnet-4-5'],
  [
    'config/argocd/breakwater.dev/AgentDeployment/testdata/healthy_model_retiring.yaml',
    'claude-sonnet-4-5',
  ],
  [
    'config/argocd/breakwater.dev/AgentDeployment/testdata/degraded_model_retired.yaml',
    'claude-sonnet-4-5',
  ],
]);

const MODEL_NAME = /\bclaude-[a-z]+-(?:\d[a-z0-9-]*[a-z0-9]|\d|preview)\b/g;
const BEDROCK_VERSION = /-v\d+$/;

/** A sample with its `spec.model` set from the module, formatted as prettier checks it. */
async function renderSample(text: string, models: SampleAgentModels): Promise<string> {
  const doc = parseDocument(text);
  doc.setIn(['spec', 'model', 'name'], models.name);
  if (models.fallbacks !== undefined) {
    const fallbacks = doc.createNode([...models.fallbacks], { flow: true });
    doc.setIn(['spec', 'model', 'fallbacks'], fallbacks);
  }
  const options = (await resolveConfig(join(root, 'config/placeholder.yaml'))) ?? {};
  return format(doc.toString({ lineWidth: 0 }), { ...options, parser: 'yaml' });
}

function filesUnder(path: string): string[] {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full)
    .sort()
    .flatMap((entry) => filesUnder(join(path, entry)));
}

interface StaleMention {
  readonly file: string;
  readonly line: number;
  readonly model: string;
}

/** Models named in the scanned files other than the sample ones and the file's retiring example. */
function staleMentions(): StaleMention[] {
  const current = new Set([PRIMARY_MODEL, FALLBACK_MODEL]);
  return SCANNED.flatMap(filesUnder)
    .filter(
      (file) =>
        SCANNED_EXTENSIONS.test(file) && !GENERATED.some((prefix) => file.startsWith(prefix)),
    )
    .flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .flatMap((text, index) =>
          [...text.matchAll(MODEL_NAME)]
            // A Bedrock model ID (`anthropic.claude-…-v1:0`) names the model before its `-vN`.
            .map(([model]) => model.replace(BEDROCK_VERSION, ''))
            .filter((model) => !current.has(model) && RETIRING_EXAMPLES.get(file) !== model)
            .map((model) => ({ file, line: index + 1, model })),
        ),
    );
}

async function main(check: boolean): Promise<number> {
  const expected = new Map<string, string>();
  const onDisk = new Map<string, string>();
  for (const [file, models] of SAMPLE_AGENT_MODELS) {
    const text = readFileSync(join(root, file), 'utf8');
    onDisk.set(file, text);
    expected.set(file, await renderSample(text, models));
  }
  const drift = findDrift(expected, onDisk);
  let failed = false;
  if (check && drift.length > 0) {
    console.error(describeDrift(drift));
    failed = true;
  } else {
    for (const { file } of drift) {
      writeFileSync(join(root, file), expected.get(file) ?? '');
      console.log(`wrote ${file}`);
    }
  }
  const stale = staleMentions();
  if (stale.length > 0) {
    console.error(
      `These name a model other than ${PRIMARY_MODEL} and ${FALLBACK_MODEL} ` +
        '(contract/src/api/sampleModels.ts); edit them:',
    );
    for (const { file, line, model } of stale) console.error(`  ${file}:${line}: ${model}`);
    failed = true;
  }
  return failed ? 1 : 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.includes('--check'));
}

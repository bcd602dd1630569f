/**
 * `node scripts/generate.ts` writes the CRDs (crds/*.yaml), the TypeScript API types
 * (contract/src/api/v1alpha1/) and each spec field's default and bounds
 * (contract/src/api/specLimits.ts) and the shape of every field each kind accepts
 * (contract/src/api/fieldShapes.ts) and what admission checks, CEL rules included (contract/src/api/admissionSchema.ts) from the JSON Schemas in crds/schemas/, and the resolved
 * policy document's setting types, defaults and bounds (contract/src/policy/generated/) from
 * them and the mapping table contract/src/policy/documentFields.ts.
 * `node scripts/generate.ts --check` writes nothing and exits 1 when any of them has drifted.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFileName, renderCrdYaml } from './crdgen/crdManifest.ts';
import { describeDrift, findDrift } from './crdgen/drift.ts';
import { loadSchemaSet } from './crdgen/schemaSet.ts';
import { renderDocumentSettings } from './crdgen/renderDocumentSettings.ts';
import { renderAdmissionSchema } from './crdgen/renderAdmissionSchema.ts';
import { renderFieldShapes } from './crdgen/renderFieldShapes.ts';
import { renderLimits } from './crdgen/renderSpecLimits.ts';
import { renderTypeScript } from './crdgen/typeScriptTypes.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaDir = join(root, 'crds/schemas');
const crdDir = join(root, 'crds');
const typesDir = join(root, 'contract/src/api/v1alpha1');
const limitsFile = join(root, 'contract/src/api/specLimits.ts');
const shapesFile = join(root, 'contract/src/api/fieldShapes.ts');
const admissionFile = join(root, 'contract/src/api/admissionSchema.ts');
const documentDir = join(root, 'contract/src/policy/generated');
/** Generated CRD files; anything else in crds/ (the schemas, a kustomization) is left alone. */
const isGeneratedCrd = (name: string): boolean => /^breakwater\.dev_.*\.yaml$/.test(name);

/** Every generated file, by path relative to the repository root. */
export async function generate(): Promise<Map<string, string>> {
  const set = loadSchemaSet(schemaDir);
  const files = new Map<string, string>();
  for (const kind of set.kinds) {
    files.set(relative(root, join(crdDir, crdFileName(kind))), renderCrdYaml(set, kind));
  }
  const types = await renderTypeScript(set, join(typesDir, 'index.ts'));
  for (const [name, content] of types) files.set(relative(root, join(typesDir, name)), content);
  files.set(relative(root, limitsFile), await renderLimits(set, limitsFile));
  files.set(relative(root, shapesFile), await renderFieldShapes(set, shapesFile));
  files.set(relative(root, admissionFile), await renderAdmissionSchema(set, admissionFile));
  const settings = await renderDocumentSettings(set, join(documentDir, 'index.ts'));
  for (const [name, content] of settings)
    files.set(relative(root, join(documentDir, name)), content);
  return files;
}

function generatedFilesOnDisk(): Map<string, string> {
  const files = new Map<string, string>();
  const collect = (dir: string, include: (name: string) => boolean): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).filter(include)) {
      files.set(relative(root, join(dir, name)), readFileSync(join(dir, name), 'utf8'));
    }
  };
  collect(crdDir, isGeneratedCrd);
  collect(typesDir, () => true);
  collect(documentDir, () => true);
  for (const file of [limitsFile, shapesFile, admissionFile]) {
    if (existsSync(file)) files.set(relative(root, file), readFileSync(file, 'utf8'));
  }
  return files;
}

async function main(check: boolean): Promise<number> {
  const expected = await generate();
  const drift = findDrift(expected, generatedFilesOnDisk());
  if (check) {
    if (drift.length === 0) return 0;
    console.error(describeDrift(drift));
    return 1;
  }
  for (const entry of drift) {
    const path = join(root, entry.file);
    const content = expected.get(entry.file);
    if (content === undefined) {
      rmSync(path);
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
    console.log(`${entry.problem === 'stale' ? 'removed' : 'wrote'} ${entry.file}`);
  }
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.includes('--check'));
}

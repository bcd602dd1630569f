/**
 * Runs the Argo CD health checks in config/argocd/ the way Argo CD's own tests do: for each
 * kind, health_test.yaml lists test objects and the health each must get. The objects go to a
 * Lua interpreter (lua5.1: Argo CD runs gopher-lua, a Lua 5.1) as table literals, and
 * run-health-check.lua runs health.lua against each.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const HEALTH_CHECKS_DIR = join(root, 'config/argocd');
const RUNNER = join(root, 'test/argocd/run-health-check.lua');

export interface HealthExpectation {
  readonly status: string;
  readonly message: string;
}

export interface HealthCase {
  /** The test object's path relative to the kind's directory, e.g. testdata/healthy.yaml. */
  readonly inputPath: string;
  readonly expected: HealthExpectation;
  readonly obj: unknown;
}

export interface HealthCheck {
  /** `<group>/<Kind>`, as Argo CD keys resource customizations. */
  readonly resource: string;
  readonly script: string;
  readonly cases: readonly HealthCase[];
}

export interface HealthResult {
  readonly name: string;
  readonly status?: string;
  readonly message?: string;
  readonly error?: string;
}

interface HealthTestFile {
  tests: { healthStatus: HealthExpectation; inputPath: string }[];
}

/** Every `<group>/<Kind>/health.lua` under config/argocd with its health_test.yaml cases. */
export function loadHealthChecks(dir = HEALTH_CHECKS_DIR): HealthCheck[] {
  const checks: HealthCheck[] = [];
  for (const group of readdirSync(dir, { withFileTypes: true })) {
    if (!group.isDirectory()) continue;
    for (const kind of readdirSync(join(dir, group.name), { withFileTypes: true })) {
      if (!kind.isDirectory()) continue;
      const kindDir = join(dir, group.name, kind.name);
      const tests = parse(
        readFileSync(join(kindDir, 'health_test.yaml'), 'utf8'),
      ) as HealthTestFile;
      checks.push({
        resource: `${group.name}/${kind.name}`,
        script: join(kindDir, 'health.lua'),
        cases: tests.tests.map((t) => ({
          inputPath: t.inputPath,
          expected: t.healthStatus,
          obj: parse(readFileSync(join(kindDir, t.inputPath), 'utf8')) as unknown,
        })),
      });
    }
  }
  return checks.sort((a, b) => a.resource.localeCompare(b.resource));
}

/** A JSON-like value as a Lua 5.1 expression. `null` becomes nil, as a JSON decode gives. */
export function toLuaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} has no Lua literal`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLuaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([key, v]) => `[${luaString(key)}] = ${toLuaLiteral(v)}`,
    );
    return `{${entries.join(', ')}}`;
  }
  throw new Error(`a ${typeof value} has no Lua literal`);
}

function luaString(text: string): string {
  let out = '"';
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (c === '\\' || c === '"') out += `\\${c}`;
    // Control characters as decimal escapes, three digits so a following digit cannot join.
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString().padStart(3, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

export function luaInterpreter(env: NodeJS.ProcessEnv = process.env): string {
  return env['BREAKWATER_LUA'] ?? 'lua5.1';
}

/** Runs one health script against its cases; results come back in case order. */
export function runHealthCheck(check: HealthCheck, lua = luaInterpreter()): HealthResult[] {
  const cases = check.cases.map(
    (c) => `{name = ${luaString(c.inputPath)}, obj = ${toLuaLiteral(c.obj)}}`,
  );
  const result = spawnSync(lua, [RUNNER, check.script], {
    input: `return {\n${cases.join(',\n')}\n}\n`,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error !== undefined) {
    throw new Error(
      `could not run ${lua} (${result.error.message}); scripts/ensure-tools.sh installs lua5.1`,
    );
  }
  if (result.status !== 0) {
    throw new Error(`${lua} ${RUNNER} ${check.script} exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as HealthResult);
}

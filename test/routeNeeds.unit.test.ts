/**
 * Each route gets only what it uses (issue 50): a handler, or a helper it hands its context to,
 * names in its `ctx` type the members of RuntimeContext it reads — directly, or by handing `ctx`
 * on to something whose own `ctx` type names them. Read with the TypeScript checker.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import ts from 'typescript';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Where handlers and what they call take a `ctx`. */
const FOLDERS = ['runtime/src/server', 'runtime/src/durable'];
/** The servers that compose the routes: they hold the whole context, to hand each its part. */
const COMPOSERS = ['runtime/src/server/apiServer.ts', 'runtime/src/server/runtimeServers.ts'];

function shippedFiles(): string[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(join(REPO, folder))
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
      .map((name) => join(REPO, folder, name)),
  );
}

function programOf(files: readonly string[]): ts.Program {
  const config = ts.readConfigFile(join(REPO, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO);
  const options = { ...parsed.options, noEmit: true };
  // Parent links set as each file is parsed: the walks below read a node's parent.
  return ts.createProgram(files, options, ts.createCompilerHost(options, true));
}

/** A function that takes a `ctx`, and the members its type lists that nothing it does uses. */
interface Overdeclared {
  readonly where: string;
  readonly unused: readonly string[];
}

/** Every function in `files` whose `ctx` type lists members it neither reads nor hands on. */
function overdeclared(program: ts.Program, files: readonly string[]): Overdeclared[] {
  const checker = program.getTypeChecker();
  const found: Overdeclared[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (source === undefined) throw new Error(`${file} is not in the program`);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const param = node.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === 'ctx');
        if (param !== undefined) {
          const declared = checker
            .getTypeAtLocation(param)
            .getProperties()
            .map((p) => p.name);
          const used = usedMembers(checker, node.body, param, declared);
          const unused = declared.filter((name) => !used.has(name)).sort();
          if (unused.length > 0) found.push({ where: whereOf(source, node), unused });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** The members of `ctx` that `body` reads, or that what it hands `ctx` to asks for. */
function usedMembers(
  checker: ts.TypeChecker,
  body: ts.Node,
  param: ts.ParameterDeclaration,
  declared: readonly string[],
): Set<string> {
  const symbol = checker.getSymbolAtLocation(param.name);
  const used = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (
      ts.isIdentifier(node) &&
      node.text === 'ctx' &&
      checker.getSymbolAtLocation(node) === symbol
    )
      for (const name of membersAt(checker, node, declared)) used.add(name);
    ts.forEachChild(node, visit);
  };
  visit(body);
  return used;
}

/** What one mention of `ctx` uses: a member read, or the context type of what it is given to. */
function membersAt(checker: ts.TypeChecker, ctx: ts.Identifier, declared: readonly string[]) {
  const parent = ctx.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.expression === ctx) return [parent.name.text];
  if (ts.isVariableDeclaration(parent) && ts.isObjectBindingPattern(parent.name))
    return parent.name.elements.map((e) => (e.propertyName ?? e.name).getText());
  if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression !== ctx) {
    const signature = checker.getResolvedSignature(parent);
    const index = parent.arguments?.indexOf(ctx) ?? -1;
    const params = signature?.getParameters() ?? [];
    const target = params[Math.min(index, params.length - 1)];
    if (index >= 0 && target !== undefined)
      return checker
        .getTypeOfSymbolAtLocation(target, parent)
        .getProperties()
        .map((p) => p.name);
  }
  // Spread, returned or stored whole: taken to use all of it.
  return declared;
}

function whereOf(source: ts.SourceFile, node: ts.SignatureDeclaration): string {
  const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
  const name = node.name?.getText(source) ?? '(anonymous)';
  return `${relative(REPO, source.fileName)}:${String(line + 1)} ${name}`;
}

/** Functions outside the composers whose `ctx` is typed as the whole RuntimeContext. */
function takingWholeContext(program: ts.Program, files: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    if (COMPOSERS.includes(relative(REPO, file))) continue;
    const source = program.getSourceFile(file);
    if (source === undefined) continue;
    const visit = (node: ts.Node): void => {
      if (
        ts.isParameter(node) &&
        node.type !== undefined &&
        ts.isTypeReferenceNode(node.type) &&
        node.type.typeName.getText(source) === 'RuntimeContext' &&
        ts.isFunctionLike(node.parent)
      )
        found.push(whereOf(source, node.parent));
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

const scratch = mkdtempSync(join(tmpdir(), 'bw-route-needs-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('what each route is given', () => {
  const files = shippedFiles();
  const program = programOf(files);

  it('is what it uses: no ctx type lists a member its function never reaches', () => {
    expect(overdeclared(program, files)).toEqual([]);
  });

  it('is never the whole RuntimeContext, outside the servers that compose the routes', () => {
    expect(takingWholeContext(program, files)).toEqual([]);
  });

  it('finds a route handed the whole context that reads one member of it', () => {
    const route = join(scratch, 'wideRoute.ts');
    const context = join(REPO, 'runtime/src/server/runtimeContext.ts');
    writeFileSync(
      route,
      `import type { RuntimeContext } from ${JSON.stringify(context)};\n` +
        `export function registerWideRoute(ctx: RuntimeContext): number {\n` +
        `  return ctx.clock.now();\n}\n`,
    );
    const wide = programOf([route]);
    expect(takingWholeContext(wide, [route])).toEqual([
      `${relative(REPO, route)}:2 registerWideRoute`,
    ]);
    const [finding] = overdeclared(wide, [route]);
    expect(finding?.unused).toContain('durable');
    expect(finding?.unused).not.toContain('clock');
  });
});

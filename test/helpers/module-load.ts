// What a module does when it is loaded, found with TypeScript's parser (no new dependency):
// - RegExp objects created at load time (a regex literal or RegExp(...) / new RegExp(...) outside
//   any function body). XS runs the top level of preloaded modules at build time and keeps what it
//   creates in flash; a RegExp made there crashed a release build inside RegExp.prototype.exec
//   (issue 9 §6). Create patterns at call time, or parse by hand.
// - Module-level constants that hold an object or array literal not wrapped in Object.freeze (at
//   every nesting level). xsl warns "not frozen" for them and keeps them in RAM (issue 9 §6).

import ts from "typescript";

export interface Finding {
  file: string;
  line: number;
  text: string;
}

function finding(sf: ts.SourceFile, node: ts.Node): Finding {
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
  return { file: sf.fileName, line, text: node.getText(sf).replace(/\s+/g, " ").slice(0, 80) };
}

export const formatFindings = (list: readonly Finding[]): string => list.map((f) => `${f.file}:${f.line}: ${f.text}`).join("\n");

function parse(code: string, file: string): ts.SourceFile {
  const kind = file.endsWith(".ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  return ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, kind);
}

function isRegExpConstruction(node: ts.Node): boolean {
  if (!ts.isNewExpression(node) && !ts.isCallExpression(node)) return false;
  const callee = node.expression;
  if (ts.isIdentifier(callee)) return callee.text === "RegExp";
  return ts.isPropertyAccessExpression(callee) && callee.name.text === "RegExp";
}

const isStatic = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.StaticKeyword);

/** RegExp objects the module creates when it is evaluated (not when its functions are called). */
export function regExpsAtModuleLoad(code: string, file: string): Finding[] {
  const sf = parse(code, file);
  const out: Finding[] = [];
  const visit = (node: ts.Node, atLoad: boolean): void => {
    if (atLoad && (node.kind === ts.SyntaxKind.RegularExpressionLiteral || isRegExpConstruction(node))) out.push(finding(sf, node));
    if (ts.isFunctionLike(node)) {
      // A computed name is evaluated with the enclosing code; parameters and body at call time.
      const name = (node as { name?: ts.Node }).name;
      if (name && ts.isComputedPropertyName(name)) visit(name, atLoad);
      ts.forEachChild(node, (child) => {
        if (child !== name) visit(child, false);
      });
      return;
    }
    if (ts.isPropertyDeclaration(node) && ts.isClassLike(node.parent)) {
      // Instance field initialisers run in the constructor; static ones when the class is defined.
      if (ts.isComputedPropertyName(node.name)) visit(node.name, atLoad);
      if (node.initializer) visit(node.initializer, atLoad && isStatic(node));
      return;
    }
    ts.forEachChild(node, (child) => visit(child, atLoad));
  };
  visit(sf, true);
  return out;
}

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

function isFreezeCall(e: ts.Expression): e is ts.CallExpression {
  return (
    ts.isCallExpression(e) &&
    ts.isPropertyAccessExpression(e.expression) &&
    ts.isIdentifier(e.expression.expression) &&
    e.expression.expression.text === "Object" &&
    e.expression.name.text === "freeze" &&
    e.arguments.length >= 1
  );
}

const isLiteral = (e: ts.Expression): boolean => ts.isObjectLiteralExpression(e) || ts.isArrayLiteralExpression(e);

/** Object and array literals under `e` (not inside functions) that are not the argument of an
 * Object.freeze call. `e` itself must be frozen when it is a literal. */
function unfrozenLiterals(sf: ts.SourceFile, e: ts.Expression, out: Finding[]): void {
  const inner = unwrap(e);
  if (isFreezeCall(inner)) {
    const arg = unwrap(inner.arguments[0]);
    if (isLiteral(arg)) ts.forEachChild(arg, (c) => walkLiteralChildren(sf, c, out));
    else unfrozenLiterals(sf, arg, out);
    return;
  }
  if (isLiteral(inner)) {
    out.push(finding(sf, inner));
    ts.forEachChild(inner, (c) => walkLiteralChildren(sf, c, out));
  }
}

function walkLiteralChildren(sf: ts.SourceFile, node: ts.Node, out: Finding[]): void {
  if (ts.isFunctionLike(node)) return;
  if (ts.isPropertyAssignment(node)) {
    unfrozenLiterals(sf, node.initializer, out);
    return;
  }
  if (ts.isSpreadElement(node) || ts.isSpreadAssignment(node)) return;
  if (ts.isExpression(node)) unfrozenLiterals(sf, node, out);
}

const MUTABLE_COLLECTIONS = new Set(["Map", "Set", "WeakMap", "WeakSet"]);

/** Module-level `const` bindings holding object or array literals (at any depth) that are not
 * frozen, and module-level Map/Set instances (which cannot be frozen). */
export function unfrozenModuleConstants(code: string, file: string): Finding[] {
  const sf = parse(code, file);
  const out: Finding[] = [];
  for (const statement of sf.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    if (!(statement.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of statement.declarationList.declarations) {
      if (!d.initializer) continue;
      const init = unwrap(d.initializer);
      if (ts.isNewExpression(init) && ts.isIdentifier(init.expression) && MUTABLE_COLLECTIONS.has(init.expression.text)) {
        out.push(finding(sf, d));
        continue;
      }
      unfrozenLiterals(sf, d.initializer, out);
    }
  }
  return out;
}

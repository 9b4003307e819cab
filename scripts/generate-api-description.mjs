// Writes shared/binding/api.generated.json: the binding's functions, classes, enumerations,
// constants and types with their signatures and TSDoc, read from shared/binding/index.ts with the
// TypeScript compiler API, so that the introspection recipe describes the binding as it is and
// never from a hand-kept list. The methods of the `OrthancBinding` interface count as functions
// (they are what a recipe calls: `ctx.orthanc.restApiGet(…)`). CI fails when the committed file
// is stale.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = new URL('../', import.meta.url).pathname;
const entry = join(root, 'shared/binding/index.ts');
const target = join(root, 'shared/binding/api.generated.json');
/** The interface whose methods are the binding's functions (the Python module's functions). */
const bindingInterface = 'OrthancBinding';

const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
);
const program = ts.createProgram([entry], { ...config.options, noEmit: true });
const checker = program.getTypeChecker();
const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
const printFlags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;

/** The text of a `/** … *\/` comment, without its stars. */
const commentText = (comment) =>
  comment
    .replace(/^\/\*\*\s*|\s*\*\/$/g, '')
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();

/**
 * A file's opening `/** … *\/` comment, when a blank line parts it from the first statement: it
 * documents the file, although TypeScript hands it to that statement's symbol.
 */
function fileHeader(sourceFile, evenWithoutBlankLine = false) {
  const text = sourceFile.getFullText();
  const [first] = ts.getLeadingCommentRanges(text, 0) ?? [];
  if (!first || !text.startsWith('/**', first.pos)) return undefined;
  const next = sourceFile.statements[0];
  if (next && !evenWithoutBlankLine && !/\n[ \t]*\n/.test(text.slice(first.end, next.getStart(sourceFile)))) return undefined;
  return { end: first.end, text: commentText(text.slice(first.pos, first.end)) };
}

const documentation = (symbol) => {
  const declaration = symbol.declarations?.[0];
  const statement = declaration && ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  const header = statement ? fileHeader(statement.getSourceFile()) : undefined;
  if (header && statement === statement.getSourceFile().statements[0]) return '';
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = symbol.getJsDocTags(checker).map((tag) => `@${tag.name}${tag.text ? ` ${ts.displayPartsToString(tag.text)}` : ''}`);
  return [text, ...tags].filter(Boolean).join('\n');
};
const sourceOf = (node) => relative(root, node.getSourceFile().fileName);
const signatureText = (name, signature, declaration) => `${name}${checker.signatureToString(signature, declaration, printFlags)}`;
const isPublic = (node) => {
  const flags = ts.getCombinedModifierFlags(node);
  return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !(node.name && ts.isPrivateIdentifier(node.name));
};
const isStatic = (node) => Boolean(ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Static);

function describeFunction(name, symbol, declaration, of) {
  const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
  const signatures = type.getCallSignatures().map((s) => signatureText(name, s, declaration));
  return {
    Name: name,
    ...(of ? { Of: of } : {}),
    Signatures: signatures,
    Documentation: documentation(symbol),
    Source: sourceOf(declaration),
  };
}

function describeClass(name, symbol, declaration) {
  const methods = [];
  const properties = [];
  const constructors = [];
  for (const member of declaration.members) {
    if (ts.isConstructorDeclaration(member)) {
      for (const parameter of member.parameters) {
        // A public parameter property (`readonly instanceId: string`) is a property of the class.
        if (ts.isParameterPropertyDeclaration(parameter, member) && isPublic(parameter)) {
          const parameterSymbol = checker.getSymbolAtLocation(parameter.name);
          properties.push({
            Name: parameter.name.getText(),
            Type: checker.typeToString(checker.getTypeAtLocation(parameter), parameter, printFlags),
            Readonly: true,
            Documentation: documentation(parameterSymbol),
          });
        }
      }
      continue;
    }
    if (!member.name || !isPublic(member)) continue;
    const memberSymbol = checker.getSymbolAtLocation(member.name);
    const memberName = member.name.getText();
    const prefix = isStatic(member) ? 'static ' : '';
    if (ts.isMethodDeclaration(member)) {
      if (methods.some((m) => m.Name === memberName)) continue;
      const type = checker.getTypeOfSymbolAtLocation(memberSymbol, member);
      methods.push({
        Name: memberName,
        ...(prefix ? { Static: true } : {}),
        Signatures: type.getCallSignatures().map((s) => prefix + signatureText(memberName, s, member)),
        Documentation: documentation(memberSymbol),
      });
    } else if (ts.isPropertyDeclaration(member) || ts.isGetAccessorDeclaration(member)) {
      const readonly = ts.isGetAccessorDeclaration(member) || Boolean(ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Readonly);
      properties.push({
        Name: memberName,
        ...(prefix ? { Static: true } : {}),
        Type: checker.typeToString(checker.getTypeOfSymbolAtLocation(memberSymbol, member), member, printFlags),
        Readonly: readonly,
        Documentation: documentation(memberSymbol),
      });
    }
  }
  const classType = checker.getTypeOfSymbolAtLocation(symbol, declaration);
  for (const signature of classType.getConstructSignatures()) {
    const text = checker.signatureToString(signature, declaration, printFlags);
    const returned = `: ${checker.typeToString(signature.getReturnType(), declaration, printFlags)}`;
    constructors.push(`new ${name}${text.endsWith(returned) ? text.slice(0, -returned.length) : text}`);
  }
  const heritage = declaration.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
  return {
    Name: name,
    ...(heritage ? { Extends: heritage.types[0].expression.getText() } : {}),
    Documentation: documentation(symbol),
    Constructor: constructors,
    Properties: properties,
    Methods: methods,
    Source: sourceOf(declaration),
  };
}

/** A const object whose every property is a number literal: an enumeration, as in the Python plugin. */
function enumerationValues(symbol, declaration) {
  const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
  const members = type.getProperties();
  if (members.length === 0) return undefined;
  const values = [];
  for (const member of members) {
    const memberType = checker.getTypeOfSymbolAtLocation(member, declaration);
    if (!memberType.isNumberLiteral()) return undefined;
    values.push({ Name: member.getName(), Value: memberType.value, Documentation: documentation(member) });
  }
  return values;
}

function describeType(name, symbol, declaration) {
  const described = {
    Name: name,
    Kind: ts.isInterfaceDeclaration(declaration) ? 'interface' : 'type',
    Documentation: documentation(symbol),
    Source: sourceOf(declaration),
  };
  if (ts.isInterfaceDeclaration(declaration)) {
    described.Members = declaration.members.map((member) => {
      const memberSymbol = member.name ? checker.getSymbolAtLocation(member.name) : undefined;
      const text = member
        .getText()
        .replace(/\/\*\*[\s\S]*?\*\/\s*/g, '')
        .replace(/\s+/g, ' ')
        .replace(/;$/, '');
      return { Name: member.name?.getText() ?? '', Definition: text, Documentation: memberSymbol ? documentation(memberSymbol) : '' };
    });
  } else {
    described.Definition = declaration.type.getText().replace(/\s+/g, ' ');
  }
  return described;
}

const functions = [];
const classes = [];
const enumerations = [];
const constants = [];
const types = [];
for (const exported of checker.getExportsOfModule(moduleSymbol)) {
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const name = exported.getName();
  for (const declaration of symbol.declarations ?? []) {
    if (ts.isClassDeclaration(declaration)) classes.push(describeClass(name, symbol, declaration));
    else if (ts.isFunctionDeclaration(declaration)) {
      if (!functions.some((f) => f.Name === name && !f.Of)) functions.push(describeFunction(name, symbol, declaration));
    } else if (ts.isVariableDeclaration(declaration)) {
      const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
      const values = enumerationValues(symbol, declaration);
      if (type.getCallSignatures().length > 0) functions.push(describeFunction(name, symbol, declaration));
      else if (values)
        enumerations.push({ Name: name, Documentation: documentation(symbol), Values: values, Source: sourceOf(declaration) });
      else
        constants.push({
          Name: name,
          Type: checker.typeToString(type, declaration, printFlags),
          Documentation: documentation(symbol),
          Source: sourceOf(declaration),
        });
    } else if (ts.isInterfaceDeclaration(declaration) && name === bindingInterface) {
      for (const member of declaration.members) {
        const memberSymbol = checker.getSymbolAtLocation(member.name);
        functions.push(describeFunction(member.name.getText(), memberSymbol, member, bindingInterface));
      }
    } else if (ts.isInterfaceDeclaration(declaration) || ts.isTypeAliasDeclaration(declaration)) {
      types.push(describeType(name, symbol, declaration));
    }
  }
}
// The binding's interface first (what a recipe calls), then the module's functions by name.
functions.sort((a, b) => (a.Of ? 0 : 1) - (b.Of ? 0 : 1) || (a.Of ? 0 : a.Name.localeCompare(b.Name)));
for (const list of [classes, enumerations, constants, types]) list.sort((a, b) => a.Name.localeCompare(b.Name));

const description = {
  $comment: 'Generated from shared/binding/index.ts by scripts/generate-api-description.mjs; do not edit.',
  Module: 'orthanc-recipes/binding',
  Documentation: fileHeader(program.getSourceFile(entry), true)?.text ?? '',
  Functions: functions,
  Classes: classes,
  Enumerations: enumerations,
  Constants: constants,
  Types: types,
};
const body = JSON.stringify(description, null, 2) + '\n';
const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
if (current !== body) writeFileSync(target, body);

/**
 * The request-body schemas of Azure resource types, read from the management SDK packages installed here:
 * each package is generated from the REST API specification of one api-version and describes what a PUT
 * body may carry, property by property, under its wire (serialized) names. Two generations of packages:
 *
 * - TypeSpec-generated ones (@azure/arm-appservice 19, arm-keyvault 5, arm-storage 20,
 *   arm-operationalinsights 11) have a serializer function per model in `dist/esm/models/models.js`; the
 *   object it returns names each writable wire property, and the serializer it calls for a property is that
 *   property's model. The file is parsed with the TypeScript compiler (not executed) to read that tree.
 * - AutoRest-generated ones (@azure/arm-authorization 9, arm-appinsights 4, arm-resources 7) export
 *   `mappers`: per model its properties with `serializedName` (dotted for flattened ones, such as
 *   `properties.principalId`) and `readOnly`.
 *
 * A schema keeps only what a request may set: read-only properties are left out, so setting one is reported
 * like an unknown property.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

export type Shape =
  | { kind: 'object'; properties: Map<string, Shape> }
  | { kind: 'array'; element: Shape }
  | { kind: 'map'; value: Shape }
  /** A scalar, or a value the schema does not describe further (tags, free-form dictionaries). */
  | { kind: 'any' };

const ANY: Shape = { kind: 'any' };
const require = createRequire(import.meta.url);

/** The root folder of an installed package (its exports map hides the generated models). */
export function packageRoot(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/** The api-version a TypeSpec-generated package sends by default (the only one it was generated for). */
export function typeSpecApiVersion(pkg: string): string {
  const api = join(packageRoot(pkg), 'dist', 'esm', 'api');
  const files = readdirSync(api, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  const versions = new Set(
    files.flatMap((f) =>
      [...readFileSync(join(api, f), 'utf8').matchAll(/context\.apiVersion \?\? "([^"]+)"/g)].map(
        (m) => m[1]!,
      ),
    ),
  );
  if (versions.size !== 1)
    throw new Error(`${pkg}: expected one api-version, found ${[...versions].join(', ')}`);
  return [...versions][0]!;
}

/** Reads the serializer functions of a TypeSpec-generated package's models. */
export function typeSpecSchemas(pkg: string): (model: string) => Shape {
  const file = join(packageRoot(pkg), 'dist', 'esm', 'models', 'models.js');
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const functions = new Map<string, ts.FunctionDeclaration>();
  for (const statement of source.statements)
    if (ts.isFunctionDeclaration(statement) && statement.name) functions.set(statement.name.text, statement);

  const shapes = new Map<string, Shape>();
  /** The serializer calls in an expression, except the helper that tests for undefined properties. */
  const serializerCalls = (node: ts.Node): string[] => {
    const names: string[] = [];
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text.endsWith('Serializer'))
        names.push(n.expression.text);
      ts.forEachChild(n, visit);
    };
    visit(node);
    return names;
  };
  const shapeOf = (serializer: string): Shape => {
    const known = shapes.get(serializer);
    if (known) return known;
    const declaration = functions.get(serializer);
    if (!declaration?.body) throw new Error(`${pkg}: no function ${serializer}`);
    if (serializer.endsWith('ArraySerializer') || serializer.endsWith('RecordSerializer')) {
      const inner = serializerCalls(declaration.body)[0];
      const element = inner ? shapeOf(inner) : ANY;
      return serializer.endsWith('ArraySerializer')
        ? { kind: 'array', element }
        : { kind: 'map', value: element };
    }
    const properties = new Map<string, Shape>();
    const shape: Shape = { kind: 'object', properties };
    shapes.set(serializer, shape); // before the properties: models may be recursive
    const returned = declaration.body.statements.find(ts.isReturnStatement)?.expression;
    if (returned && ts.isObjectLiteralExpression(returned)) {
      for (const member of returned.properties) {
        if (ts.isPropertyAssignment(member)) {
          const name = ts.isStringLiteral(member.name) ? member.name.text : member.name.getText(source);
          const inner = serializerCalls(member.initializer);
          properties.set(name, inner.length > 0 ? shapeOf(inner[inner.length - 1]!) : ANY);
        } else if (ts.isSpreadAssignment(member)) {
          for (const inner of serializerCalls(member.expression)) {
            const spread = shapeOf(inner);
            if (spread.kind === 'object') for (const [k, v] of spread.properties) properties.set(k, v);
          }
        }
      }
    } else {
      // A discriminated union: any of its variants' properties.
      for (const inner of serializerCalls(declaration.body)) {
        const variant = shapeOf(inner);
        if (variant.kind === 'object') for (const [k, v] of variant.properties) properties.set(k, v);
      }
    }
    return shape;
  };
  return (model) => shapeOf(`${model}Serializer`);
}

interface Mapper {
  serializedName?: string;
  readOnly?: boolean;
  type: {
    name: string;
    className?: string;
    modelProperties?: Record<string, Mapper>;
    element?: Mapper;
    value?: Mapper;
  };
}

/** Reads the mappers of an AutoRest-generated package (`module` is the package's mappers module). */
export function mapperSchemas(mappers: Record<string, unknown>): (model: string) => Shape {
  const shapes = new Map<string, Shape>();
  const fromMapper = (mapper: Mapper): Shape => {
    const { type } = mapper;
    if (type.name === 'Composite') return composite(type.className!, type.modelProperties);
    if (type.name === 'Sequence')
      return { kind: 'array', element: type.element ? fromMapper(type.element) : ANY };
    if (type.name === 'Dictionary') return { kind: 'map', value: type.value ? fromMapper(type.value) : ANY };
    return ANY;
  };
  const composite = (className: string, inline?: Record<string, Mapper>): Shape => {
    const known = shapes.get(className);
    if (known) return known;
    const model = (mappers[className] as Mapper | undefined)?.type.modelProperties ?? inline ?? {};
    const root: Shape = { kind: 'object', properties: new Map() };
    shapes.set(className, root);
    for (const property of Object.values(model)) {
      if (property.readOnly || !property.serializedName) continue;
      // `properties.principalId` is principalId inside properties; `\.` is a dot inside a name.
      const path = property.serializedName.split(/(?<!\\)\./).map((part) => part.replace(/\\\./g, '.'));
      let at = root as Extract<Shape, { kind: 'object' }>;
      for (const part of path.slice(0, -1)) {
        let next = at.properties.get(part);
        if (!next || next.kind !== 'object') {
          next = { kind: 'object', properties: new Map() };
          at.properties.set(part, next);
        }
        at = next;
      }
      at.properties.set(path[path.length - 1]!, fromMapper(property));
    }
    return root;
  };
  return (model) => composite(model);
}

/** The properties of `value` its schema does not have (or has as read-only), as JSON-like paths. */
export function unknownProperties(value: unknown, shape: Shape, path = ''): string[] {
  if (shape.kind === 'any' || value === null || typeof value !== 'object') return [];
  // An unevaluated template expression: its value is known only in Azure.
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return [];
  if (Array.isArray(value))
    return shape.kind === 'array'
      ? value.flatMap((item, i) => unknownProperties(item, shape.element, `${path}[${i}]`))
      : [];
  if (shape.kind === 'map')
    return Object.entries(value).flatMap(([key, item]) =>
      unknownProperties(item, shape.value, `${path}.${key}`),
    );
  if (shape.kind !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const inner = shape.properties.get(key);
    const at = path ? `${path}.${key}` : key;
    return inner ? unknownProperties(item, inner, at) : [at];
  });
}

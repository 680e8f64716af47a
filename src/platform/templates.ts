/**
 * The placeholder engine: YAML templates and a tree of values in, Kubernetes objects out. It knows nothing
 * of any platform; `manifests.ts` supplies the templates' values.
 *
 * Placeholders. Templates are parsed as YAML first, then every string scalar is searched for `${a.b.c}`, a
 * dotted path into the values; text never becomes YAML structure, so a value cannot inject a key or a
 * document. A scalar that is exactly one placeholder takes the value's own type (number, string, list,
 * map) unless it is quoted in the template, which makes it a string; a placeholder inside a longer string
 * is interpolated (primitives only). `$${` writes a literal `${` (none of our templates needs one: shell
 * snippets use `$name`, Prometheus relabelling uses `$1`). An unknown or malformed placeholder, a
 * placeholder in a key, or a value no template uses is an error, so templates and values cannot drift
 * apart silently.
 */
import { Scalar, parseAllDocuments, visit, type Document } from 'yaml';

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** One template file: its name (for error messages) and its multi-document YAML text. */
export interface TemplateFile {
  file: string;
  text: string;
}

export type TemplateValue =
  string | number | boolean | readonly TemplateValue[] | { [key: string]: TemplateValue };
export type TemplateValues = { [key: string]: TemplateValue };

/** A rendered document: the YAML (comments kept, for text output) and the object it stands for. */
export interface Rendered {
  document: Document;
  object: KubernetesObject;
}

/** The placeholder contract on its own: templates in, objects out. */
export function renderTemplates(
  templates: readonly TemplateFile[],
  values: TemplateValues,
): KubernetesObject[] {
  return renderDocuments(templates, values).map(({ object }) => object);
}

const PLACEHOLDER = /\$(\$?)\{([^}]*)\}/g;
const PATH = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*$/;

/**
 * `partial`: the templates are a part of the set the values are for, so a value none of them uses is not an
 * error (an unknown placeholder still is).
 */
export function renderDocuments(
  templates: readonly TemplateFile[],
  values: TemplateValues,
  { partial = false }: { partial?: boolean } = {},
): Rendered[] {
  const used = new Set<string>();
  const out: Rendered[] = [];
  for (const template of templates) {
    const documents = parseAllDocuments(template.text);
    if (!Array.isArray(documents)) throw new Error(`${template.file}: not a YAML stream`);
    documents.forEach((document, index) => {
      const where = `${template.file} document ${index + 1}`;
      if (document.errors.length > 0) throw new Error(`${where}: ${document.errors[0]!.message}`);
      substitute(document, values, used, where);
      const object = document.toJS() as unknown;
      if (object === null || object === undefined) return;
      out.push({ document, object: asKubernetesObject(object, where) });
    });
  }
  const unused = leafPaths(values).filter((path) => !isCovered(path, used));
  if (unused.length > 0 && !partial) throw new Error(`values no template uses: ${unused.join(', ')}`);
  return out;
}

function substitute(document: Document, values: TemplateValues, used: Set<string>, where: string): void {
  visit(document, {
    Scalar(key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return undefined;
      if (key === 'key') throw new Error(`${where}: placeholder in a key: ${node.value}`);
      const text = node.value;
      const whole = /^\$\{([^}]*)\}$/.exec(text);
      if (whole) {
        const value = lookup(values, whole[1]!, used, where);
        const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
        if (quoted || typeof value !== 'object') {
          node.value = quoted ? primitive(value, whole[1]!, where) : value;
          return undefined;
        }
        return document.createNode(value);
      }
      node.value = text.replace(PLACEHOLDER, (_match, escape: string, path: string) =>
        escape ? `\${${path}}` : primitive(lookup(values, path, used, where), path, where),
      );
      return undefined;
    },
  });
}

function lookup(values: TemplateValues, path: string, used: Set<string>, where: string): TemplateValue {
  if (!PATH.test(path)) throw new Error(`${where}: malformed placeholder \${${path}}`);
  let current: TemplateValue = values;
  for (const segment of path.split('.')) {
    const next: TemplateValue | undefined =
      typeof current === 'object' && !Array.isArray(current) && Object.hasOwn(current, segment)
        ? (current as { [key: string]: TemplateValue })[segment]
        : undefined;
    if (next === undefined) throw new Error(`${where}: unknown placeholder \${${path}}`);
    current = next;
  }
  used.add(path);
  return current;
}

function primitive(value: TemplateValue, path: string, where: string): string {
  if (typeof value === 'object') throw new Error(`${where}: \${${path}} is not a single value`);
  return String(value);
}

function leafPaths(value: TemplateValue, prefix = ''): string[] {
  if (typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value);
  if (entries.length === 0) return prefix ? [prefix] : [];
  return entries.flatMap(([key, v]) => leafPaths(v, prefix ? `${prefix}.${key}` : key));
}

const isCovered = (path: string, used: Set<string>) =>
  [...used].some((u) => path === u || path.startsWith(`${u}.`));

function asKubernetesObject(value: unknown, where: string): KubernetesObject {
  const o = value as Partial<KubernetesObject>;
  if (
    typeof o !== 'object' ||
    typeof o.apiVersion !== 'string' ||
    typeof o.kind !== 'string' ||
    typeof o.metadata?.name !== 'string'
  )
    throw new Error(`${where}: not a Kubernetes object (apiVersion, kind, metadata.name)`);
  return o as KubernetesObject;
}

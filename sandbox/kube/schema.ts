/**
 * The schema of the built-in kinds, for `fieldValidation=Strict`: which fields exist, recursively.
 *
 * It is read from @kubernetes/client-node's models, which are generated from the Kubernetes OpenAPI document
 * (each model's `attributeTypeMap` lists its JSON fields and their types). kubernetes-models, the other
 * offline source, only ships compiled validators that accept unknown fields, so it cannot tell them.
 * Custom resources are not checked (their CRD schemas are not modelled here).
 */
import * as models from '@kubernetes/client-node';
import { isObject, type Json } from './json.js';
import type { ResourceType } from './resources.js';

interface Attribute {
  baseName: string;
  type: string;
}

type Model = { getAttributeTypeMap(): Attribute[] };

function model(name: string): Model | undefined {
  const candidate = (models as Record<string, unknown>)[name] as Partial<Model> | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as Model) : undefined;
}

/** `V1Deployment` for apps/v1 Deployment: the naming of client-node's generated models. */
function modelName(type: ResourceType): string {
  return `${type.version.charAt(0).toUpperCase()}${type.version.slice(1)}${type.kind}`;
}

/**
 * The fields of `object` that the schema of `type` does not declare, as the API server names them
 * (`.spec.foo`, `.spec.template.spec.containers[name="x"].bar`), or undefined when there is no schema.
 */
export function undeclaredFields(type: ResourceType, object: Json): string[] | undefined {
  if (!type.builtin) return undefined;
  if (!model(modelName(type))) return undefined;
  const found: string[] = [];
  walk(modelName(type), object, '', found);
  return found;
}

function walk(typeName: string, value: Json, path: string, found: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => {
      // Lists keyed by name are shown by key, as the structured-merge-diff errors do.
      const key = isObject(item) && typeof item.name === 'string' ? `[name="${item.name}"]` : `[${i}]`;
      walk(array[1]!, item, `${path}${key}`, found);
    });
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    if (!isObject(value)) return;
    for (const [k, v] of Object.entries(value)) walk(map[1]!, v, `${path}.${k}`, found);
    return;
  }
  const m = model(typeName);
  if (!m || !isObject(value)) return;
  const fields = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const fieldType = fields.get(k);
    if (fieldType === undefined) found.push(`${path}.${k}`);
    else walk(fieldType, v, `${path}.${k}`, found);
  }
}

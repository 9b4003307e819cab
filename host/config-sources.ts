import type { SchemaObject } from 'ajv';
import { escapePointer } from '../shared/validate.js';
import hostSchema from './host-schema.json' with { type: 'json' };
import type { RecipeRegistry } from './registry.js';

/** The prefix of the environment variables that override the file, as `ORTHANC__` does for Orthanc's Docker images. */
export const environmentPrefix = 'ORTHANC_RECIPES__';

/** Where values of the configuration came from, other than the file: JSON pointer → a description of the source. */
export type ConfigSources = Map<string, string>;

export interface EnvironmentIssue {
  pointer: string;
  message: string;
  source: string;
}

/**
 * Applies `ORTHANC_RECIPES__Section__Key=value` variables over the parsed file (in place), as the
 * Orthanc Docker images apply `ORTHANC__...`: `ORTHANC_RECIPES__Orthanc__Password`,
 * `ORTHANC_RECIPES__HttpServer__Port=8043`, `ORTHANC_RECIPES__Recipes__autorouting__Enabled=true`.
 * Each `__` goes one level down; a name matches a key of the schema whatever its case
 * (`ORTHANC_RECIPES__HTTPSERVER__PORT` too). Where the schema says the key holds a string the
 * value is taken as it is; elsewhere it is JSON (`8043`, `true`, `["a","b"]`, `{"StableAge": 5}`),
 * and, where the schema cannot tell (an external recipe's options), a value that is not JSON
 * is a string. Variables are applied in name order, so a deeper one wins over its parent.
 */
export async function applyEnvironment(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  registry: RecipeRegistry,
): Promise<{ sources: ConfigSources; issues: EnvironmentIssue[] }> {
  const sources: ConfigSources = new Map();
  const issues: EnvironmentIssue[] = [];
  const names = Object.keys(env)
    .filter((name) => name.startsWith(environmentPrefix) && name.length > environmentPrefix.length)
    .sort();
  if (names.length === 0 || !isObject(raw)) return { sources, issues };
  for (const name of names) {
    const source = `environment variable ${name}`;
    const segments = name.slice(environmentPrefix.length).split('__');
    if (segments.some((segment) => segment === '')) {
      issues.push({ pointer: '', message: `cannot be read: empty key between "__"`, source });
      continue;
    }
    const keys: string[] = [];
    let schema: SchemaObject | undefined = hostSchema;
    for (const [depth, segment] of segments.entries()) {
      const key = schemaKey(schema, segment);
      keys.push(key);
      // Under `Recipes/<id>`, the recipe's own schema (bundled recipes) says what the options are.
      schema = depth === 1 && keys[0] === 'Recipes' ? await recipeSchema(registry, key) : childSchema(schema, key);
    }
    const text = env[name] ?? '';
    let value: unknown;
    if (holdsString(schema)) value = text;
    else {
      try {
        value = JSON.parse(text);
      } catch {
        if (schema !== undefined && !acceptsString(schema)) {
          issues.push({
            pointer: pointerOf(keys),
            message: `is not JSON: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)} (strings are for keys that hold text)`,
            source,
          });
          continue;
        }
        value = text;
      }
    }
    const pointer = pointerOf(keys);
    if (!setAt(raw, keys, value)) {
      issues.push({ pointer, message: 'cannot be set: a value on its path is not an object', source });
      continue;
    }
    for (const known of [...sources.keys()]) if (known.startsWith(`${pointer}/`)) sources.delete(known);
    sources.set(pointer, source);
  }
  return { sources, issues };
}

/** The source of the value at `pointer`, or of a value it lies in; undefined when it came from the file. */
export function sourceOf(sources: ConfigSources, pointer: string, message = ''): string | undefined {
  for (let at = pointer; ; at = at.slice(0, at.lastIndexOf('/'))) {
    const source = sources.get(at);
    if (source) return source;
    if (at === '') break;
  }
  // An unknown key, or a missing one, is reported at its parent with the key in the message.
  for (const [overridden, source] of sources) {
    const parent = overridden.slice(0, overridden.lastIndexOf('/'));
    const key = overridden.slice(overridden.lastIndexOf('/') + 1);
    if (parent === pointer && message.includes(`"${key}"`)) return source;
  }
  return undefined;
}

async function recipeSchema(registry: RecipeRegistry, id: string): Promise<SchemaObject | undefined> {
  const load = registry[id];
  if (!load) return undefined;
  try {
    const schema = (await load()).schema;
    // The host's own keys of a recipe's entry.
    return {
      ...schema,
      properties: { ...((schema.properties ?? {}) as Record<string, unknown>), Enabled: { type: 'boolean' }, Module: { type: 'string' } },
    };
  } catch {
    return undefined;
  }
}

/** The schema's spelling of `segment` (case-insensitive), or `segment` itself. */
function schemaKey(schema: SchemaObject | undefined, segment: string): string {
  const properties = Object.keys((schema?.properties as object | undefined) ?? {});
  return properties.find((key) => key === segment) ?? properties.find((key) => key.toLowerCase() === segment.toLowerCase()) ?? segment;
}

function childSchema(schema: SchemaObject | undefined, key: string): SchemaObject | undefined {
  if (!schema) return undefined;
  const property = (schema.properties as Record<string, SchemaObject> | undefined)?.[key];
  if (property) return property;
  if (/^\d+$/.test(key) && isObject(schema.items)) return schema.items;
  return isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
}

function holdsString(schema: SchemaObject | undefined): boolean {
  if (!schema) return false;
  if (schema.type === 'string') return true;
  return Array.isArray(schema.enum) && schema.enum.every((value: unknown) => typeof value === 'string');
}

function acceptsString(schema: SchemaObject): boolean {
  if (holdsString(schema)) return true;
  if (Array.isArray(schema.type)) return schema.type.includes('string');
  const alternatives = [...((schema.oneOf as SchemaObject[] | undefined) ?? []), ...((schema.anyOf as SchemaObject[] | undefined) ?? [])];
  return schema.type === undefined && (alternatives.length === 0 || alternatives.some(acceptsString));
}

function setAt(target: Record<string, unknown>, keys: string[], value: unknown): boolean {
  let node: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    const next = node[key];
    // Arrays too: `__0__` is an index.
    if (typeof next !== 'object' || next === null) return false;
    node = next as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
  return true;
}

const pointerOf = (keys: string[]) => keys.map((key) => `/${escapePointer(key)}`).join('');

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where a JSON syntax error lies, as `line L, column C`: from the message of Node 22+ or from
 * the `position N` of Node 20's.
 */
export function syntaxErrorLocation(text: string, message: string): string | undefined {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return `line ${lineColumn[1]}, column ${lineColumn[2]}`;
  const position = /at position (\d+)/.exec(message);
  let offset = position ? Number(position[1]) : /Unexpected end of JSON input/.test(message) ? text.length : undefined;
  if (offset === undefined) return undefined;
  offset = Math.min(offset, text.length);
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

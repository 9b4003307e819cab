import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';

/**
 * The one ajv instance that validates the host's configuration and every recipe's options:
 * strict (a typo in a schema is an error), all errors at once, defaults filled in.
 */
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });

const compiled = new WeakMap<SchemaObject, ValidateFunction>();

/** Compiles a schema once and caches the validator. */
export function compileSchema(schema: SchemaObject): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** One configuration error: the JSON pointer of the offending value (or unknown key) and why. */
export interface ValidationIssue {
  pointer: string;
  message: string;
}

/** Turns ajv's errors into issues whose pointers start at `prefix` (e.g. `/Recipes/hello`). */
export function toIssues(errors: readonly ErrorObject[] | null | undefined, prefix = ''): ValidationIssue[] {
  return (errors ?? []).map((error) => {
    if (error.keyword === 'additionalProperties') {
      const key = String(error.params.additionalProperty);
      const allowed = Object.keys((error.parentSchema?.properties as object | undefined) ?? {});
      const expected = allowed.length ? `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}` : 'no options are accepted here';
      return { pointer: `${prefix}${error.instancePath}/${escapePointer(key)}`, message: `unknown key "${key}"; ${expected}` };
    }
    if (error.keyword === 'enum') {
      const allowed = (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return { pointer: `${prefix}${error.instancePath}`, message: `must be one of ${allowed}` };
    }
    return { pointer: `${prefix}${error.instancePath}`, message: error.message ?? error.keyword };
  });
}

export const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

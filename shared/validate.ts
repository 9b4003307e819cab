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
  /** The wrong value, as JSON (shortened), when the issue is about a value. */
  found?: string;
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
    const issue: ValidationIssue = { pointer: `${prefix}${error.instancePath}`, message: error.message ?? error.keyword };
    if (error.keyword === 'enum')
      issue.message = `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    // The value is shown, except where it may be a secret and except for a missing key's object.
    if (error.keyword !== 'required' && !/password|secret|token/i.test(error.instancePath)) issue.found = shorten(error.data);
    return issue;
  });
}

/** A value as JSON, at most 80 characters. */
function shorten(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

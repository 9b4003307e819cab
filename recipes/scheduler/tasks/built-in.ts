import type { SchemaObject } from 'ajv';
import type { Logger, OrthancBinding } from '../../../shared/binding/index.js';

/** What a built-in task sees. */
export interface BuiltInContext {
  orthanc: OrthancBinding;
  log: Logger;
  /** Aborted when the run is cancelled (the host stops): stop between two calls to Orthanc. */
  signal: AbortSignal;
}

/** A built-in task: its options' schema (validated at load, defaults filled in) and one run. */
export interface BuiltInTask<Options> {
  schema: SchemaObject;
  /** What the schema cannot see, once the options passed it; pointers are relative to `Options`. */
  check?(options: Options): { pointer: string; message: string }[];
  run(ctx: BuiltInContext, options: Options): Promise<unknown>;
}

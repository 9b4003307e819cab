import type { OrthancBinding } from '../../shared/binding/index.js';
import type { RecipeMeta } from '../../shared/recipe.js';
import type { SchemaObject } from 'ajv';
import generated from '../../shared/binding/api.generated.json' with { type: 'json' };
import pythonModule from './python-module.json' with { type: 'json' };

// The binding's side is generated from its TypeScript declarations at build time
// (scripts/generate-api-description.mjs → shared/binding/api.generated.json); the Python side is
// data about another project, kept by hand in python-module.json. This file only joins them.

export interface FunctionDescription {
  Name: string;
  /** `OrthancBinding` for the methods of `ctx.orthanc`; absent for the module's own functions. */
  Of?: string;
  Signatures: string[];
  Documentation: string;
  Source: string;
}

export interface PropertyDescription {
  Name: string;
  Type: string;
  Readonly: boolean;
  Static?: boolean;
  Documentation: string;
}

export interface MethodDescription {
  Name: string;
  Static?: boolean;
  Signatures: string[];
  Documentation: string;
}

export interface ClassDescription {
  Name: string;
  Extends?: string;
  Documentation: string;
  Constructor: string[];
  Properties: PropertyDescription[];
  Methods: MethodDescription[];
  Source: string;
}

export interface EnumerationDescription {
  Name: string;
  Documentation: string;
  Values: { Name: string; Value: number; Documentation: string }[];
  Source: string;
}

export interface ConstantDescription {
  Name: string;
  Type: string;
  Documentation: string;
  Source: string;
}

export interface TypeDescription {
  Name: string;
  Kind: string;
  Documentation: string;
  Definition?: string;
  Members?: { Name: string; Definition: string; Documentation: string }[];
  Source: string;
}

/** The shape of shared/binding/api.generated.json. */
export interface ApiDescription {
  Module: string;
  /** The opening comment of shared/binding/index.ts. */
  Documentation: string;
  Functions: FunctionDescription[];
  Classes: ClassDescription[];
  Enumerations: EnumerationDescription[];
  Constants: ConstantDescription[];
  Types: TypeDescription[];
}

/** The shape of python-module.json. */
export interface PythonModule {
  source: string;
  functions: string[];
  notOffered: { reason: string; functions: Record<string, string | null> }[];
  classes: Record<string, string[]>;
  classesNotOffered: Record<string, string>;
  methodsNotOffered: Record<string, string>;
  enumerations: string[];
  enumerationsNotOffered: Record<string, string>;
}

export const api = generated as unknown as ApiDescription;
export const python = pythonModule as unknown as PythonModule;

/** The Python plugin's spelling of a binding name: upper camel case (`registerRestCallback` → `RegisterRestCallback`). */
export const pythonSpelling = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

/** The Python name a binding name corresponds to: its upper-camel-case spelling, if the Python side has it. */
function pythonName(name: string, pythonNames: readonly string[]): string | null {
  const spelled = pythonSpelling(name);
  return pythonNames.includes(spelled) ? spelled : null;
}

export interface NotOffered {
  Name: string;
  Reason: string;
  /** What to use instead, when there is something. */
  Instead?: string;
}

/** The part that needs no Orthanc: the binding, and how it maps to the Python plugin's module. */
export function describeApi() {
  const pythonClasses = Object.keys(python.classes);
  const offeredFunctions = new Set<string>();
  const functions = api.Functions.map((f) => {
    // Only `ctx.orthanc`'s methods stand for the Python module's functions.
    const name = f.Of ? pythonName(f.Name, python.functions) : null;
    if (name) offeredFunctions.add(name);
    return { ...f, Python: name };
  });
  const offeredMethods = new Set<string>();
  const classes = api.Classes.map((c) => {
    const pythonClass = pythonClasses.includes(c.Name) ? c.Name : null;
    const methods = c.Methods.map((m) => {
      const name = pythonClass ? pythonName(m.Name, python.classes[pythonClass] ?? []) : null;
      if (name) offeredMethods.add(`${pythonClass}.${name}`);
      return { ...m, Python: name };
    });
    return { ...c, Python: pythonClass, Methods: methods };
  });
  const enumerations = api.Enumerations.map((e) => ({ ...e, Python: python.enumerations.includes(e.Name) ? e.Name : null }));
  const offeredClasses = new Set(classes.flatMap((c) => (c.Python ? [c.Python] : [])));
  const offeredEnumerations = new Set(enumerations.flatMap((e) => (e.Python ? [e.Python] : [])));

  const reasons = new Map<string, { reason: string; instead: string | null }>();
  for (const group of python.notOffered) {
    for (const [name, instead] of Object.entries(group.functions)) reasons.set(name, { reason: group.reason, instead });
  }
  const notOffered = (name: string, reason: string | undefined, instead?: string | null): NotOffered => ({
    Name: name,
    Reason: reason ?? 'No reason is recorded in recipes/introspection/python-module.json.',
    ...(instead ? { Instead: instead } : {}),
  });
  return {
    Binding: {
      Module: api.Module,
      Documentation: api.Documentation,
      Functions: functions,
      Classes: classes,
      Enumerations: enumerations,
      Constants: api.Constants,
      Types: api.Types,
    },
    Python: {
      Source: python.source,
      Functions: python.functions.length,
      FunctionsOffered: offeredFunctions.size,
      FunctionsNotOffered: python.functions
        .filter((name) => !offeredFunctions.has(name))
        .map((name) => notOffered(name, reasons.get(name)?.reason, reasons.get(name)?.instead)),
      ClassesNotOffered: pythonClasses
        .filter((name) => !offeredClasses.has(name))
        .map((name) => notOffered(name, python.classesNotOffered[name])),
      MethodsNotOffered: [...offeredClasses].flatMap((className) =>
        (python.classes[className] ?? [])
          .map((method) => `${className}.${method}`)
          .filter((name) => !offeredMethods.has(name))
          .map((name) => notOffered(name, 'Not offered by the binding.', python.methodsNotOffered[name])),
      ),
      EnumerationsNotOffered: python.enumerations
        .filter((name) => !offeredEnumerations.has(name))
        .map((name) => notOffered(name, python.enumerationsNotOffered[name] ?? python.enumerationsNotOffered['*'])),
    },
  };
}

export type ApiAnswer = ReturnType<typeof describeApi>;

/** An enabled recipe as the live part shows it; its options are already masked. */
export interface RecipeEntry {
  meta: RecipeMeta;
  schema: SchemaObject;
  options?: Record<string, unknown>;
  status: string;
  error?: string;
  /** What the host says the recipe serves now: `"GET,HEAD /recipes/ui/(.*)"` (methods declared, `*` for all). */
  servedRoutes?: string[];
}

export interface LiveDescription {
  Host: { Version: string };
  Orthanc: OrthancDescription;
  Recipes: {
    Id: string;
    Title: string;
    Description: string;
    Status: string;
    Error?: string;
    Routes: string[];
    /** The routes as registered, with the methods the host serves for them (`*`: every method). */
    Served?: string[];
    Events: string[];
    Destructive: boolean;
    PriorArt?: string;
    Options?: Record<string, unknown>;
    Schema: SchemaObject;
  }[];
}

export type OrthancDescription =
  | {
      Answers: true;
      Version: string;
      ApiVersion: number;
      Name: string;
      DicomAet: string;
      Plugins: { ID: string; Version?: string; Description?: string }[];
      Modalities: string[];
      Peers: string[];
      Errors?: string[];
    }
  | { Answers: false; Error: string };

/** Orthanc as it answers now: version, plugins, and the names (only) of its modalities and peers. */
export async function describeOrthanc(orthanc: Pick<OrthancBinding, 'restApiGetJson' | 'getSystem'>): Promise<OrthancDescription> {
  let system;
  try {
    system = await orthanc.getSystem();
  } catch (error) {
    return { Answers: false, Error: error instanceof Error ? error.message : String(error) };
  }
  const errors: string[] = [];
  // One failing route (a plugin that misbehaves, a user without the right) must not hide the rest.
  const attempt = async <T>(what: string, load: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await load();
    } catch (error) {
      errors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      return fallback;
    }
  };
  const names = (uri: string) => attempt(uri, async () => namesOf(await orthanc.restApiGetJson(uri)), [] as string[]);
  const [plugins, modalities, peers] = await Promise.all([
    attempt(
      '/plugins',
      async () => {
        // Orthanc lists `explorer.js` among its plugins: the plugins' Orthanc Explorer extensions, not a plugin.
        const ids = namesOf(await orthanc.restApiGetJson('/plugins')).filter((id) => id !== 'explorer.js');
        return Promise.all(
          ids.map(async (id) => {
            const details = await attempt(
              `/plugins/${id}`,
              () => orthanc.restApiGetJson<Record<string, unknown>>(`/plugins/${encodeURIComponent(id)}`),
              {},
            );
            return {
              ID: id,
              ...(typeof details.Version === 'string' ? { Version: details.Version } : {}),
              ...(typeof details.Description === 'string' ? { Description: details.Description } : {}),
            };
          }),
        );
      },
      [] as { ID: string; Version?: string; Description?: string }[],
    ),
    names('/modalities'),
    names('/peers'),
  ]);
  return {
    Answers: true,
    Version: system.Version,
    ApiVersion: system.ApiVersion,
    Name: system.Name,
    DicomAet: system.DicomAet,
    Plugins: plugins,
    Modalities: modalities,
    Peers: peers,
    ...(errors.length ? { Errors: errors } : {}),
  };
}

/** `["a","b"]`, or the keys of `{"a": {…}}` (what `?expand` or a newer Orthanc might answer). */
function namesOf(answer: unknown): string[] {
  if (Array.isArray(answer)) return answer.filter((v): v is string => typeof v === 'string').sort();
  if (answer && typeof answer === 'object') return Object.keys(answer).sort();
  return [];
}

export function describeRecipes(entries: readonly RecipeEntry[]): LiveDescription['Recipes'] {
  return entries.map(({ meta, schema, options, status, error, servedRoutes }) => ({
    Id: meta.id,
    Title: meta.title,
    Description: meta.description,
    Status: status,
    ...(error ? { Error: error } : {}),
    Routes: meta.routes,
    ...(servedRoutes ? { Served: servedRoutes } : {}),
    Events: meta.events,
    Destructive: meta.destructive,
    ...(meta.priorArt ? { PriorArt: meta.priorArt } : {}),
    ...(options ? { Options: options } : {}),
    Schema: schema,
  }));
}

export interface Introspection extends ApiAnswer {
  Live?: LiveDescription;
}

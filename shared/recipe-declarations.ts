import type { ChangeTypeName } from './binding/index.js';
import type { RecipeMeta } from './recipe.js';

/** What a recipe's `setup` registered: route patterns (regular expressions) and change types. */
export interface Registrations {
  routes: readonly string[];
  /** `'all'` when a change callback was registered without `types`. */
  events: readonly ChangeTypeName[] | 'all';
  /** The methods each route declared when registered (`RouteOptions.methods`), by pattern; a route absent serves every method. */
  methods?: Readonly<Record<string, readonly string[]>>;
}

/** One difference between `meta` and what `setup` registered. */
export interface DeclarationMismatch {
  /** `undeclared`: registered, missing from `meta` (always a mistake in `meta`). `unregistered`: in `meta`, not registered (maybe turned off by an option). */
  kind: 'undeclared' | 'unregistered';
  message: string;
}

/**
 * The path of a `meta.routes` entry (`"GET /instances/{id}/thumbnail"` → `/instances/{id}/thumbnail`),
 * a concrete path standing for it (`/instances/x-1/thumbnail`) that a registered pattern must
 * match, and its methods: `GET,HEAD` → `['GET', 'HEAD']`, `*` (every method) → undefined.
 */
function declaredPath(route: string): { path: string; sample: string; methods: string[] | undefined } {
  const space = route.indexOf(' ');
  const path = route.slice(space + 1).trim();
  const methodText = space > 0 ? route.slice(0, space).trim() : '*';
  const methods = methodText === '*' ? undefined : methodText.split(',').map((method) => method.trim());
  return { path, sample: path.replace(/\{[^}/]+\}/g, 'x-1'), methods };
}

const sameMethods = (declared: readonly string[] | undefined, served: readonly string[]) =>
  declared !== undefined && declared.length === served.length && declared.every((method) => served.includes(method));

function covers(pattern: string, declared: { path: string; sample: string }): boolean {
  if (pattern === declared.path) return true;
  try {
    return new RegExp(`^(?:${pattern})$`).test(declared.sample);
  } catch {
    return false;
  }
}

/**
 * Compares `meta.routes`/`meta.events` with what `setup` registered. A route of `meta` is
 * served when a registered pattern is the same text or matches it with `{name}` filled in.
 */
export function compareDeclarations(meta: Pick<RecipeMeta, 'routes' | 'events'>, registered: Registrations): DeclarationMismatch[] {
  const mismatches: DeclarationMismatch[] = [];
  const declared = meta.routes.map(declaredPath);
  for (const pattern of registered.routes) {
    if (!declared.some((route) => covers(pattern, route))) {
      mismatches.push({ kind: 'undeclared', message: `setup registered the route ${pattern}, which meta.routes does not list` });
    }
  }
  for (const [index, route] of declared.entries()) {
    const pattern = registered.routes.find((candidate) => covers(candidate, route));
    if (pattern === undefined) {
      mismatches.push({ kind: 'unregistered', message: `meta.routes lists ${meta.routes[index]}, which setup did not register` });
    } else if (registered.methods !== undefined && Object.hasOwn(registered.methods, pattern)) {
      // What meta says of the methods is what the introspection recipe and the catalogue show. A
      // route that declares none checks methods itself (as before `methods` existed): its meta
      // text is taken as written.
      const served = registered.methods[pattern]!;
      if (!sameMethods(route.methods, served)) {
        mismatches.push({
          kind: 'undeclared',
          message: `meta.routes lists ${meta.routes[index]}, but setup registered ${pattern} serving ${served.join(',')}`,
        });
      }
    }
  }
  if (registered.events !== 'all') {
    for (const event of registered.events) {
      if (!meta.events.includes(event))
        mismatches.push({ kind: 'undeclared', message: `setup listens to ${event}, which meta.events does not list` });
    }
    for (const event of meta.events) {
      if (!registered.events.includes(event))
        mismatches.push({ kind: 'unregistered', message: `meta.events lists ${event}, which setup does not listen to` });
    }
  } else if (meta.events.length === 0) {
    mismatches.push({ kind: 'undeclared', message: 'setup listens to every change type, and meta.events lists none' });
  }
  return mismatches;
}

import type { ChangeTypeName } from './binding/index.js';
import type { RecipeMeta } from './recipe.js';

/** What a recipe's `setup` registered: route patterns (regular expressions) and change types. */
export interface Registrations {
  routes: readonly string[];
  /** `'all'` when a change callback was registered without `types`. */
  events: readonly ChangeTypeName[] | 'all';
}

/** One difference between `meta` and what `setup` registered. */
export interface DeclarationMismatch {
  /** `undeclared`: registered, missing from `meta` (always a mistake in `meta`). `unregistered`: in `meta`, not registered (maybe turned off by an option). */
  kind: 'undeclared' | 'unregistered';
  message: string;
}

/**
 * The path of a `meta.routes` entry (`"GET /instances/{id}/thumbnail"` → `/instances/{id}/thumbnail`),
 * and a concrete path standing for it (`/instances/x-1/thumbnail`) that a registered pattern must match.
 */
function declaredPath(route: string): { path: string; sample: string } {
  const path = route.slice(route.indexOf(' ') + 1).trim();
  return { path, sample: path.replace(/\{[^}/]+\}/g, 'x-1') };
}

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
    if (!registered.routes.some((pattern) => covers(pattern, route))) {
      mismatches.push({ kind: 'unregistered', message: `meta.routes lists ${meta.routes[index]}, which setup did not register` });
    }
  }
  if (registered.events !== 'all') {
    for (const event of registered.events) {
      if (!meta.events.includes(event)) mismatches.push({ kind: 'undeclared', message: `setup listens to ${event}, which meta.events does not list` });
    }
    for (const event of meta.events) {
      if (!registered.events.includes(event)) mismatches.push({ kind: 'unregistered', message: `meta.events lists ${event}, which setup does not listen to` });
    }
  } else if (meta.events.length === 0) {
    mismatches.push({ kind: 'undeclared', message: 'setup listens to every change type, and meta.events lists none' });
  }
  return mismatches;
}

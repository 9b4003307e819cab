import { OrthancHttpError, OrthancUnreachableError, RecipeHttpError, type RestRouter } from '../shared/binding/index.js';
import type { RecipeMeta } from '../shared/recipe.js';

/**
 * Whether a failed setup may succeed later without anyone changing the configuration: Orthanc
 * did not answer, or refused the host's credentials (401/403: a password being rotated, an
 * authorization plugin still starting). Such a recipe waits and is set up again; any other
 * failure is the recipe's own.
 */
export function isOrthancUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth += 1) {
    if (cause instanceof OrthancUnreachableError) return true;
    if (cause instanceof OrthancHttpError && (cause.httpStatus === 401 || cause.httpStatus === 403)) return true;
  }
  return false;
}

/**
 * The paths that a waiting recipe answers with a JSON 503, as regular expressions for the
 * router: each route its meta declares (`GET /recipes/ui/{file}` → `/recipes/ui/[^/]+`), and
 * everything under `/recipes/<id>` (the prefix every bundled recipe's routes live under).
 */
export function reservedPaths(meta: RecipeMeta): string[] {
  const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  const declared = meta.routes.map((route) => {
    const path = route.replace(/^[A-Z]+\s+/, '').split('?')[0]!;
    return path
      .split(/(\{[^}]*\})/)
      .map((part) => (part.startsWith('{') ? '[^/]+' : escape(part)))
      .join('');
  });
  return [...new Set([...declared, `/recipes/${escape(meta.id)}(?:/.*)?`])];
}

/**
 * Registers the 503 answers of a waiting recipe; returns the function that removes them. They are
 * registered before the recipe's own routes, so they win until removed (after its setup succeeded).
 */
export function reserveRoutes(router: RestRouter, meta: RecipeMeta, reason: () => string, retryAfterSeconds: () => number): () => void {
  const removers = reservedPaths(meta).map((pattern) =>
    router.register(
      meta.id,
      pattern,
      (output) => {
        output.setHttpHeader('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds()))));
        throw new RecipeHttpError(
          503,
          'recipe-waiting',
          `the recipe ${meta.id} is waiting for Orthanc and is not running yet: ${reason()}`,
          { Status: 'waiting' },
        );
      },
      { reservation: true },
    ),
  );
  return () => removers.forEach((remove) => remove());
}

// Generated from recipes/paging/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the paging recipe.
 */
export interface Options {
/**
 * How pages are made: `find` asks Orthanc's `/tools/find` with `OrderBy`/`Limit`/`Since` (Orthanc 1.12.5+ with a database that has `HasExtendedFind`); `index` keeps a sorted index of the studies in the recipe's own tables, fed by the change feed; `auto` takes `find` where Orthanc has it, else `index`.
 */
Engine: ("auto" | "find" | "index")
/**
 * Studies per page when the request has no `limit`.
 */
DefaultLimit: number
/**
 * Largest `limit` a request may ask for; a larger one is answered 400.
 */
MaxLimit: number
}

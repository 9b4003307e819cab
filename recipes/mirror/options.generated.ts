// Generated from recipes/mirror/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the mirror recipe.
 */
export interface Options {
/**
 * The PostgreSQL database to mirror into, as `pg` reads it: `postgres://user:password@host:5432/database`. Required.
 */
ConnectionString: string
/**
 * The table created and filled there: one row per patient, study, series and instance (`level`, `id`, `body` JSONB, `last_update`, `mirrored_at`).
 */
Table: string
/**
 * At start, compare the whole index with the table: mirror what is missing or older, remove what Orthanc no longer has (what happened while the recipe was off).
 */
CatchUpAtStart: boolean
/**
 * How long a resource that could not be mirrored (PostgreSQL down) waits before it is tried again.
 */
RetrySeconds: number
}

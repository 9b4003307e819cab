// Generated from recipes/archive-stream/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the archive-stream recipe.
 */
export interface Options {
/**
 * Most archives streamed at once; one more request is answered 503 with `Retry-After` (Orthanc builds each ZIP with a thread of its own).
 */
MaxConcurrentArchives: number
}

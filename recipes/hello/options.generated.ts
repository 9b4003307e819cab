// Generated from recipes/hello/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the hello recipe.
 */
export interface Options {
/**
 * Log every change as `<ChangeType> <ResourceType> <id>` (and `Started`/`Stopped` when Orthanc comes and goes).
 */
LogChanges: boolean
}
